/**
 * Runs systeminformation in a short-lived child process and prints what the inventory needs as
 * one JSON line. In the child, si.graphics()'s synchronous lspci/nvidia-smi calls cannot block
 * the agent's event loop, and its memory goes away with the process.
 */
import si from 'systeminformation';

const settle = async <T>(p: Promise<T>): Promise<T | null> => p.catch(() => null);
const [cpu, mem, osInfo, graphics] = await Promise.all([settle(si.cpu()), settle(si.mem()), settle(si.osInfo()), settle(si.graphics())]);
process.stdout.write(`${JSON.stringify({ cpu, mem, osInfo, graphics })}\n`);
