import { definePluginErrors } from "@swarm/core";

/** The Mesos backend's own errors (codes `SWARM_ERR_MESOS_…`); listed in docs/errors.md. */
export const mesosErrors = definePluginErrors("mesos", {
  // ---- Options: a bad value stops the manager before it starts ----------------------------------
  MasterMissing: {
    status: 500,
    message: "the Mesos master is missing: give host:port, a list of them, or zk://host:port/path",
    when: "the discovery argument names no Mesos master",
  },
  InvalidMaster: {
    status: 500,
    message: "invalid Mesos master {master}: expected host:port or zk://host:port/path",
    when: "one of the listed Mesos masters is not host:port",
  },
  InvalidZookeeperMaster: {
    status: 500,
    message: "invalid Mesos master {master}: expected zk://host:port[,host:port]/path",
    when: "a zk:// Mesos master names no ZooKeeper host",
  },
  InvalidDuration: {
    status: 500,
    message: "invalid {option} {value}: {reason}",
    when: "a mesos.*timeout cluster option is not a Go duration such as 30s",
  },
  InvalidAddress: {
    status: 500,
    message: "invalid IP address for cluster-opt mesos.address: \"{address}\"",
    when: "the mesos.address cluster option is not an IP address",
  },
  InvalidPort: {
    status: 500,
    message: "invalid port for cluster-opt mesos.port: \"{port}\"",
    when: "the mesos.port cluster option is not a port number",
  },
  InvalidCheckpointFailover: {
    status: 500,
    message: "invalid value for cluster-opt mesos.checkpointfailover: \"{value}\" (true or false)",
    when: "the mesos.checkpointfailover cluster option is not a boolean",
  },

  // ---- Creating a container as a task ------------------------------------------------------------
  ResourcesRequired: {
    status: 400,
    message: "resources constraints (-c and/or -m) are required by mesos",
    when: "a create asks for neither CPUs nor memory, which Mesos needs to place a task",
  },
  NameInUse: {
    status: 409,
    message: "Conflict: The name {name} is already assigned or in pending tasks. You have to delete (or rename) that container to be able to assign {name} to a container again.",
    when: "a create asks for a name a container or a pending task already has",
  },
  TaskNotStarted: {
    status: 500,
    message: "container failed to start after {timeout}",
    when: "no agent's offer took the task within mesos.tasktimeout",
  },
  LaunchRefused: {
    status: 500,
    message: "Mesos did not take the launch: {reason}",
    when: "the Mesos master refused or failed the call that launches the task",
  },
  TaskFailed: {
    status: 500,
    message: "{message}",
    when: "the task ended before it ran, in Mesos's own words",
  },
  TaskEnded: {
    status: 500,
    message: "task {task} is {state}",
    when: "the task ended before it ran and Mesos gave no reason",
  },
  ExecutorTerminated: {
    status: 500,
    message: "{message} : please verify your SWARM_MESOS_USER is correctly set",
    when: "the task's executor terminated abnormally, which a wrong mesos.user causes",
  },
  AgentGone: {
    status: 500,
    message: "Mesos agent {agent} is gone",
    when: "the agent that ran the task left before its container could be found",
  },
  ContainerNotCreated: {
    status: 500,
    message: "Container failed to create",
    when: "the task runs but its agent's engine shows no container for it",
  },
  ShuttingDown: {
    status: 500,
    message: "the manager is shutting down",
    when: "the manager stopped while the task was waiting to be placed or to start",
  },
});
