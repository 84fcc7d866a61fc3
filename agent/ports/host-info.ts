/** The host's inventory as `info.host` carries it (spec/mqtt-api.md, extended with cores, kernel, arch, gpus). */
export interface HostInfoDoc {
  cpu: string | null;
  cores: number | null;
  mem_mib: number | null;
  os: string | null;
  kernel: string | null;
  arch: string | null;
  gpus: Array<{ name: string | null; vendor: string | null; vram_mib: number | null; driver: string | null; bus: string | null }>;
}

/**
 * The host inventory (CPU, memory, OS, GPUs). Gathering it can block the event loop for a moment
 * (systeminformation runs lspci, dmidecode and nvidia-smi synchronously): refresh() is called at
 * start and on request only, never from the control loop; current() never blocks.
 */
export interface HostInfoPort {
  /** The last inventory gathered (null before the first refresh). */
  current(): HostInfoDoc | null;
  refresh(): Promise<HostInfoDoc>;
}
