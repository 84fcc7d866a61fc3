/** The topic map of spec/mqtt-api.md for one node. */
export interface NodeTopics {
  base: string;
  node: string;
  status: string;
  state: string;
  info: string;
  event: string;
  /** `<base>/<id>/set/+` and the prefix to strip. */
  setFilter: string;
  setPrefix: string;
  requestFilter: string;
  requestPrefix: string;
  allRequestFilter: string;
  allRequestPrefix: string;
  response: (command: string) => string;
  jobsSubmit: string;
  jobsCancel: string;
  fleetSubmit: (model: string) => string;
  sharedFleetSubmit: (group: string, model: string) => string;
  replyPrefix: string;
}

export function nodeTopics(base: string, node: string, replyPrefix: string | null = null): NodeTopics {
  const n = `${base}/${node}`;
  return {
    base,
    node,
    status: `${n}/status`,
    state: `${n}/state`,
    info: `${n}/info`,
    event: `${n}/event`,
    setFilter: `${n}/set/+`,
    setPrefix: `${n}/set/`,
    requestFilter: `${n}/request/+`,
    requestPrefix: `${n}/request/`,
    allRequestFilter: `${base}/all/request/+`,
    allRequestPrefix: `${base}/all/request/`,
    response: (command) => `${n}/response/${command}`,
    jobsSubmit: `${n}/jobs/submit`,
    jobsCancel: `${n}/jobs/cancel`,
    fleetSubmit: (model) => `${base}/jobs/${model}/submit`,
    sharedFleetSubmit: (group, model) => `$share/${group}/${base}/jobs/${model}/submit`,
    replyPrefix: replyPrefix ?? `${base}/replies/`,
  };
}
