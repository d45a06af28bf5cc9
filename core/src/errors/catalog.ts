import {
  buildersOf,
  fillTemplate,
  hasSwarmErrorShape,
  type ErrorBuilder,
  type ErrorEntry,
  type ErrorParams,
  type FilledEntry,
  type Placeholders,
  type SwarmError,
} from "./swarm-error.js";

export {
  SwarmError,
  definePluginErrors,
  errorMessage,
  fillTemplate,
  isErrorBuilders,
  placeholdersOf,
  screamingSnake,
} from "./swarm-error.js";
export type {
  ErrorBuilder,
  ErrorBuilders,
  ErrorEntry,
  ErrorOptions,
  ErrorParams,
  FilledEntry,
  PluginErrorEntry,
  Placeholders,
} from "./swarm-error.js";

/**
 * Every error the manager itself answers, one entry per message. Code throws through the builders
 * of `errors` below (`throw errors.NoSuchContainer({ ref })`) and matches by code
 * (`isSwarmError(err, "NoSuchContainer")`), never by message or `instanceof`, so two copies of core
 * (a plugin bundling its own) agree. The API layer turns an error into Docker's `{"message": …}`
 * body with the entry's status. Where a message is classic Swarm's or dockerd's, it is theirs to
 * the byte: clients and scripts match on it. docs/errors.md is this table (`npm run docs:errors`).
 */
export const CATALOG = {
  // ---- The request: its parameters, filters, JSON body and API version ----------------------
  ClientVersionTooNew: {
    code: "SWARM_ERR_CLIENT_VERSION_TOO_NEW",
    status: 400,
    message: "client version {requested} is too new. Maximum supported API version is {maximum}",
    when: "the request's /vX.Y prefix is newer than the API version the cluster serves",
  },
  ClientVersionTooOld: {
    code: "SWARM_ERR_CLIENT_VERSION_TOO_OLD",
    status: 400,
    message: "client version {requested} is too old. Minimum supported API version is {minimum}, please upgrade your client to a newer version",
    when: "the request's /vX.Y prefix is older than the oldest API version the manager serves",
  },
  PageNotFound: {
    code: "SWARM_ERR_PAGE_NOT_FOUND",
    status: 404,
    message: "page not found",
    when: "no route answers to the method and path, as dockerd answers it",
  },
  JsonContentTypeRequired: {
    code: "SWARM_ERR_JSON_CONTENT_TYPE_REQUIRED",
    status: 400,
    message: "Content-Type specified ({contentType}) must be 'application/json'",
    when: "a route that reads a JSON body was sent another content type",
  },
  InvalidJson: {
    code: "SWARM_ERR_INVALID_JSON",
    status: 400,
    message: "invalid JSON: {problem}",
    when: "a JSON body does not parse; the problem is worded as Go's decoder words it",
  },
  FilterNotJson: {
    code: "SWARM_ERR_FILTER_NOT_JSON",
    status: 400,
    message: "invalid filter '{filter}': filters must be JSON such as {\"label\":[\"a=b\"]}",
    when: "the filters parameter is not JSON",
  },
  InvalidFilter: {
    code: "SWARM_ERR_INVALID_FILTER",
    status: 400,
    message: "invalid filter '{filter}'",
    when: "the filters parameter is not a JSON object, or one of its values is neither a list nor a map",
  },
  InvalidFilterRegexp: {
    code: "SWARM_ERR_INVALID_FILTER_REGEXP",
    status: 400,
    message: "invalid filter regexp '{pattern}': {reason}",
    when: "a name or id filter of a container or network list is not a valid regular expression",
  },
  InvalidDanglingFilter: {
    code: "SWARM_ERR_INVALID_DANGLING_FILTER",
    status: 400,
    message: "Invalid filter 'dangling={value}'",
    when: "a network or volume list's dangling filter is not a boolean",
  },
  InvalidEventTime: {
    code: "SWARM_ERR_INVALID_EVENT_TIME",
    status: 400,
    message: "invalid value for {name}: {value}",
    when: "an events request's since or until is neither Unix seconds nor an RFC 3339 date",
  },

  // ---- The HTTP exchange: body size, framing and time limits ---------------------------------
  JsonBodyTooLarge: {
    code: "SWARM_ERR_JSON_BODY_TOO_LARGE",
    status: 400,
    message: "request body too large: JSON documents are limited to {limitMiB} MiB",
    when: "a JSON body is larger than the manager reads",
  },
  BodyLengthMismatch: {
    code: "SWARM_ERR_BODY_LENGTH_MISMATCH",
    status: 400,
    message: "request body size did not match its Content-Length header",
    when: "a JSON body's size differs from its Content-Length",
  },
  TruncatedBody: {
    code: "SWARM_ERR_TRUNCATED_BODY",
    status: 400,
    message: "request ended before its body was complete (fewer bytes than its Content-Length, or a chunked body without its last chunk)",
    when: "the client's connection ended before the whole request body arrived",
  },
  BadChunkSize: {
    code: "SWARM_ERR_BAD_CHUNK_SIZE",
    status: 400,
    message: "invalid chunk size in a chunked request body",
    when: "a chunked request body has a chunk-size line that is not a hexadecimal size",
  },
  ClientConnectionFailed: {
    code: "SWARM_ERR_CLIENT_CONNECTION_FAILED",
    status: 400,
    message: "the client's connection failed while it sent the request body",
    when: "the client's socket failed in the middle of an upload relayed to an engine",
  },
  BodyIdleTimeout: {
    code: "SWARM_ERR_BODY_IDLE_TIMEOUT",
    status: 408,
    message: "request body timed out: nothing arrived for {seconds} s",
    when: "a request body stopped arriving for longer than the idle limit (--upload-idle-timeout for uploads)",
  },
  BodyTimeout: {
    code: "SWARM_ERR_BODY_TIMEOUT",
    status: 408,
    message: "request body timed out: not complete after {seconds} s",
    when: "a JSON request body was still incomplete when its time limit ran out",
  },
  HeadersTooLarge: {
    code: "SWARM_ERR_HEADERS_TOO_LARGE",
    status: 431,
    message: "request headers too large",
    when: "the request's headers exceed what the HTTP server reads",
  },
  InvalidContentLengthHeader: {
    code: "SWARM_ERR_INVALID_CONTENT_LENGTH_HEADER",
    status: 400,
    message: "invalid Content-Length header",
    when: "the HTTP server could not read the request's Content-Length",
  },
  RequestTimedOut: {
    code: "SWARM_ERR_REQUEST_TIMED_OUT",
    status: 408,
    message: "request timed out",
    when: "the request's head did not arrive within the HTTP server's limit",
  },
  MalformedRequest: {
    code: "SWARM_ERR_MALFORMED_REQUEST",
    status: 400,
    message: "malformed HTTP request: {reason}",
    when: "the HTTP server's parser refused the request for another reason, given by the parser",
  },
  InvalidUrl: {
    code: "SWARM_ERR_INVALID_URL",
    status: 400,
    message: "invalid URL: {reason}",
    when: "the router cannot decode the request's path",
  },
  RouterRefused: {
    code: "SWARM_ERR_ROUTER_REFUSED",
    status: 400,
    message: "{message}",
    when: "the router refused the request for another reason; its own text and status are passed on",
  },
  ChunkedUpgradeBody: {
    code: "SWARM_ERR_CHUNKED_UPGRADE_BODY",
    status: 400,
    message: "chunked request bodies are not supported on hijacked connections",
    when: "an attach or exec start upgrade request sent its body chunked",
  },
  InvalidContentLength: {
    code: "SWARM_ERR_INVALID_CONTENT_LENGTH",
    status: 400,
    message: "invalid Content-Length {value}",
    when: "an upgrade request's Content-Length is not a size",
  },
  UpgradeBodyTooLarge: {
    code: "SWARM_ERR_UPGRADE_BODY_TOO_LARGE",
    status: 400,
    message: "request body too large ({length} bytes)",
    when: "an upgrade request's body is larger than the manager reads",
  },
  UpgradeNotSupported: {
    code: "SWARM_ERR_UPGRADE_NOT_SUPPORTED",
    status: 400,
    message: "protocol upgrade is not supported for {method} {path}",
    when: "a connection upgrade was asked of a route other than attach or exec start",
  },

  // ---- Containers and exec -------------------------------------------------------------------
  NoSuchContainer: {
    code: "SWARM_ERR_NO_SUCH_CONTAINER",
    status: 404,
    message: "No such container: {ref}",
    when: "no container answers to the reference",
  },
  AmbiguousContainerName: {
    code: "SWARM_ERR_AMBIGUOUS_CONTAINER_NAME",
    status: 404,
    message: "No such container: {ref} ({count} containers have that name: {names}; name one as <node>/<name>)",
    when: "a plain name is held by containers on several nodes",
  },
  AmbiguousContainerPrefix: {
    code: "SWARM_ERR_AMBIGUOUS_CONTAINER_PREFIX",
    status: 500,
    message: "Multiple IDs found with provided prefix: {ref}",
    when: "an ID prefix matches several containers (dockerd answers it with a 500 too)",
  },
  ContainerOnUnhealthyNode: {
    code: "SWARM_ERR_CONTAINER_ON_UNHEALTHY_NODE",
    status: 500,
    message: "Container {ref} running on unhealthy node {node}",
    when: "the container or exec instance lives on a node that is not healthy",
  },
  InvalidContainerName: {
    code: "SWARM_ERR_INVALID_CONTAINER_NAME",
    status: 400,
    message: "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
    when: "a create asks for a name outside dockerd's alphabet",
  },
  NameInUse: {
    code: "SWARM_ERR_NAME_IN_USE",
    status: 409,
    message: "Conflict: The name {name} is already assigned. You have to delete (or rename) that container to be able to assign {name} to a container again.",
    when: "a create or rename asks for a name a container of the cluster already has or is being created with",
  },
  EmptyCreateConfig: {
    code: "SWARM_ERR_EMPTY_CREATE_CONFIG",
    status: 400,
    message: "config cannot be empty in order to create a container",
    when: "a container create has no JSON object body",
  },
  CreateFieldType: {
    code: "SWARM_ERR_CREATE_FIELD_TYPE",
    status: 400,
    message: "json: cannot unmarshal {jsonType} into Go struct field ContainerConfigWrapper.{field} of type {goType}",
    when: "a field of a create body has the wrong JSON type, worded as dockerd's decoder words it",
  },
  InvalidStatusFilter: {
    code: "SWARM_ERR_INVALID_STATUS_FILTER",
    status: 400,
    message: "Invalid filter 'status={status}'",
    when: "a container list's status filter is not a container state",
  },
  InvalidExitedFilter: {
    code: "SWARM_ERR_INVALID_EXITED_FILTER",
    status: 400,
    message: "invalid filter 'exited={value}'",
    when: "a container list's exited filter is not a number",
  },
  TooManyReschedulePolicies: {
    code: "SWARM_ERR_TOO_MANY_RESCHEDULE_POLICIES",
    status: 500,
    message: "too many reschedule policies",
    when: "a create gives more than one reschedule policy",
  },
  InvalidReschedulePolicy: {
    code: "SWARM_ERR_INVALID_RESCHEDULE_POLICY",
    status: 500,
    message: "invalid reschedule policy: {policy}",
    when: "a create's reschedule policy is neither off nor on-node-failure",
  },
  NoSuchExec: {
    code: "SWARM_ERR_NO_SUCH_EXEC",
    status: 404,
    message: "No such exec instance: {id}",
    when: "no engine knows the exec instance",
  },
  NoExecCommand: {
    code: "SWARM_ERR_NO_EXEC_COMMAND",
    status: 400,
    message: "No exec command specified",
    when: "an exec create has no command",
  },

  // ---- Images ----------------------------------------------------------------------------------
  NoSuchImage: {
    code: "SWARM_ERR_NO_SUCH_IMAGE",
    status: 404,
    message: "No such image: {ref}",
    when: "no node holds the image an inspect, history, push or tag names",
  },
  NoSuchImageToRemove: {
    code: "SWARM_ERR_NO_SUCH_IMAGE_TO_REMOVE",
    status: 404,
    message: "No such image {ref}",
    when: "no node holds the image a remove names (classic Swarm's words, without a colon)",
  },
  NoEngineWithImages: {
    code: "SWARM_ERR_NO_ENGINE_WITH_IMAGES",
    status: 404,
    message: "Unable to find a healthy engine containing all images: [{names}]",
    when: "no healthy node holds every image an export asks for",
  },
  PullSourceRequired: {
    code: "SWARM_ERR_PULL_SOURCE_REQUIRED",
    status: 400,
    message: "fromImage or fromSrc is required",
    when: "an image create names neither an image to pull nor a source to import",
  },
  InvalidReferenceFilter: {
    code: "SWARM_ERR_INVALID_REFERENCE_FILTER",
    status: 400,
    message: "invalid reference filter '{pattern}': {reason}",
    when: "an image list's reference filter does not compile",
  },
  InvalidDanglingImageFilter: {
    code: "SWARM_ERR_INVALID_DANGLING_IMAGE_FILTER",
    status: 400,
    message: "Invalid filter: 'type'='dangling'",
    when: "an image list's dangling filter is not a boolean",
  },
  NoSuchImageForFilter: {
    code: "SWARM_ERR_NO_SUCH_IMAGE_FOR_FILTER",
    status: 400,
    message: "Invalid filter: 'type'='{kind}': no such image found: '{ref}'",
    when: "an image list's before or since filter names an image no node holds",
  },
  ImageVizNotSupported: {
    code: "SWARM_ERR_IMAGE_VIZ_NOT_SUPPORTED",
    status: 501,
    message: "Not supported in clustering mode.",
    when: "the image graph is asked for, which classic Swarm does not serve either",
  },

  // ---- Networks and volumes --------------------------------------------------------------------
  NoSuchNetwork: {
    code: "SWARM_ERR_NO_SUCH_NETWORK",
    status: 404,
    message: "No such network: {ref}",
    when: "no network answers to the reference",
  },
  NoSuchNetworkToRemove: {
    code: "SWARM_ERR_NO_SUCH_NETWORK_TO_REMOVE",
    status: 404,
    message: "No such network {ref}",
    when: "no network answers to the reference a remove names (classic Swarm's words, without a colon)",
  },
  AmbiguousNetworkName: {
    code: "SWARM_ERR_AMBIGUOUS_NETWORK_NAME",
    status: 404,
    message: "No such network: {ref} ({count} networks have that name: {names}; name one as <node>/<name>)",
    when: "a plain name is held by node-local networks on several nodes",
  },
  AmbiguousNetworkNameToRemove: {
    code: "SWARM_ERR_AMBIGUOUS_NETWORK_NAME_TO_REMOVE",
    status: 404,
    message: "No such network {ref} ({count} networks have that name: {names}; name one as <node>/<name>)",
    when: "a remove names a plain name held by node-local networks on several nodes",
  },
  AmbiguousNetworkPrefix: {
    code: "SWARM_ERR_AMBIGUOUS_NETWORK_PREFIX",
    status: 400,
    message: "network {ref} is ambiguous ({count} matches found based on ID prefix)",
    when: "an ID prefix a remove, connect or disconnect names matches several networks",
  },
  AmbiguousNetworkPrefixInspect: {
    code: "SWARM_ERR_AMBIGUOUS_NETWORK_PREFIX_INSPECT",
    status: 400,
    message: "{count} matches found based on ID prefix: network {ref} is ambiguous",
    when: "an ID prefix an inspect names matches several networks",
  },
  NetworkOnAnotherNode: {
    code: "SWARM_ERR_NETWORK_ON_ANOTHER_NODE",
    status: 404,
    message: "No such network: {ref} (it is local to {where}; container {container} runs on {node})",
    when: "a connect or disconnect names a node-local network of another node than the container's",
  },
  ContainerNotSpecified: {
    code: "SWARM_ERR_CONTAINER_NOT_SPECIFIED",
    status: 404,
    message: "Container is not specified",
    when: "a network connect or disconnect body names no container",
  },
  InvalidNetworkTypeFilter: {
    code: "SWARM_ERR_INVALID_NETWORK_TYPE_FILTER",
    status: 400,
    message: "Invalid filter: 'type'='{type}'",
    when: "a network list's type filter is neither custom nor builtin",
  },
  NetworkCreateBodyRequired: {
    code: "SWARM_ERR_NETWORK_CREATE_BODY_REQUIRED",
    status: 400,
    message: "network create needs a JSON body such as {\"Name\":\"web\"}",
    when: "a network create has no JSON object body",
  },
  NoSuchVolume: {
    code: "SWARM_ERR_NO_SUCH_VOLUME",
    status: 404,
    message: "No such volume: {ref}",
    when: "no volume answers to the reference",
  },
  NoSuchVolumeToRemove: {
    code: "SWARM_ERR_NO_SUCH_VOLUME_TO_REMOVE",
    status: 404,
    message: "No such volume {ref}",
    when: "no volume answers to the reference a remove names (classic Swarm's words, without a colon)",
  },
  AmbiguousVolumeName: {
    code: "SWARM_ERR_AMBIGUOUS_VOLUME_NAME",
    status: 404,
    message: "No such volume: {ref} ({count} volumes have that name: {names}; name one as <node>/<name>)",
    when: "a plain name is held by volumes on several nodes",
  },
  VolumeCreateBodyRequired: {
    code: "SWARM_ERR_VOLUME_CREATE_BODY_REQUIRED",
    status: 400,
    message: "volume create needs a JSON object body",
    when: "a volume create's body is JSON but not an object",
  },

  // ---- Docker plugins and build sessions on the engines ------------------------------------------
  AmbiguousPlugin: {
    code: "SWARM_ERR_AMBIGUOUS_PLUGIN",
    status: 400,
    message: "multiple plugins found for \"{ref}\"",
    when: "a reference matches different Docker plugins on different nodes",
  },
  NoSuchPlugin: {
    code: "SWARM_ERR_NO_SUCH_PLUGIN",
    status: 404,
    message: "plugin \"{ref}\" not found",
    when: "no node has the Docker plugin and no engine said why",
  },
  NoSessionId: {
    code: "SWARM_ERR_NO_SESSION_ID",
    status: 400,
    message: "no session ID provided",
    when: "a build session request has no X-Docker-Expose-Session-Uuid header",
  },
  SessionAlreadyAwaited: {
    code: "SWARM_ERR_SESSION_ALREADY_AWAITED",
    status: 500,
    message: "already waiting on node for session {session}",
    when: "a second session request arrives for a build session whose node is not known yet",
  },
  BuildSessionTimeout: {
    code: "SWARM_ERR_BUILD_SESSION_TIMEOUT",
    status: 500,
    message: "timeout waiting for build to start",
    when: "a build session's build did not start on any node in time",
  },

  // ---- Scheduling ------------------------------------------------------------------------------
  NoNodesAvailable: {
    code: "SWARM_ERR_NO_NODES_AVAILABLE",
    status: 500,
    message: "No nodes available in the cluster",
    when: "the cluster has no node to run the request on, or the filters left none (then with the per-reason node count)",
  },
  NoHealthyNode: {
    code: "SWARM_ERR_NO_HEALTHY_NODE",
    status: 500,
    message: "No healthy node available in the cluster",
    when: "a request served by any one healthy node finds none",
  },
  NoResourcesAvailable: {
    code: "SWARM_ERR_NO_RESOURCES_AVAILABLE",
    status: 500,
    message: "no resources available to schedule container",
    when: "the strategy finds no node with the CPUs and memory asked for, with the per-reason node count",
  },
  UnsatisfiedConditions: {
    code: "SWARM_ERR_UNSATISFIED_CONDITIONS",
    status: 500,
    message: "Unable to find a node that satisfies the following conditions {conditions}",
    when: "a filter left no node; the conditions of every filter up to it follow, one line each, then the per-reason node count",
  },
  FilterMessage: {
    code: "SWARM_ERR_FILTER_MESSAGE",
    status: 500,
    message: "{message}",
    when: "a filter with its own classic message (the health filter's) left no node; the message is the filter's",
  },
  ExpressionWithoutOperator: {
    code: "SWARM_ERR_EXPRESSION_WITHOUT_OPERATOR",
    status: 500,
    message: "One of operator ==, != is expected in '{expression}'",
    when: "a constraint, affinity or whitelist expression has neither == nor !=",
  },
  InvalidExpressionKey: {
    code: "SWARM_ERR_INVALID_EXPRESSION_KEY",
    status: 500,
    message: "Key '{key}' is invalid",
    when: "an expression's key is shorter than two characters or has a character classic Swarm refuses",
  },
  InvalidExpressionValue: {
    code: "SWARM_ERR_INVALID_EXPRESSION_VALUE",
    status: 500,
    message: "Value '{value}' is invalid",
    when: "an expression's value has a character classic Swarm refuses",
  },
  InvalidExpression: {
    code: "SWARM_ERR_INVALID_EXPRESSION",
    status: 500,
    message: "{message}",
    when: "a filter plugin refused an expression in its own words",
  },

  // ---- Engines ---------------------------------------------------------------------------------
  EngineAnswered: {
    code: "SWARM_ERR_ENGINE_ANSWERED",
    status: 500,
    message: "{message}",
    when: "an engine answered with an error; its own message is passed on, and its status when it is an error status",
  },
  EngineCallFailed: {
    code: "SWARM_ERR_ENGINE_CALL_FAILED",
    status: 500,
    message: "{message}",
    when: "a call to an engine failed before the engine answered, in the HTTP client's own words",
  },
  FailedOnEngines: {
    code: "SWARM_ERR_FAILED_ON_ENGINES",
    status: 500,
    message: "{failures}",
    when: "an operation run on several engines failed on some: one `<engine>: <error>` line each, with the engine's status when only one failed",
  },
  EngineUnreachable: {
    code: "SWARM_ERR_ENGINE_UNREACHABLE",
    status: 500,
    message: "Cannot connect to the Docker daemon at tcp://{addr}. Is the docker daemon running?",
    when: "the engine refused or dropped the connection, or could not be reached",
  },
  EngineGone: {
    code: "SWARM_ERR_ENGINE_GONE",
    status: 500,
    message: "Engine no longer exists",
    when: "a call reached an engine that has left the cluster",
  },
  EngineTimeout: {
    code: "SWARM_ERR_ENGINE_TIMEOUT",
    status: 504,
    message: "engine {engine} did not answer {method} {path} within {seconds} s; it may still be doing it",
    when: "an engine did not answer a call in time; it may still be doing it",
  },
  EngineBusy: {
    code: "SWARM_ERR_ENGINE_BUSY",
    status: 503,
    message: "engine {engine} is busy: {waiting} already waiting for it; try again later",
    when: "an engine's queue of waiting calls is full",
  },
  NotAnEngine: {
    code: "SWARM_ERR_NOT_AN_ENGINE",
    status: 500,
    message: "cannot get resources for this engine, make sure {addr} is a Docker Engine, not a Swarm manager",
    when: "an address of the discovery answers /info without CPUs or memory",
  },
  EngineIdChanged: {
    code: "SWARM_ERR_ENGINE_ID_CHANGED",
    status: 500,
    message: "Engine (ID: {id}, Addr: {addr}) shows up with another ID:{newId}. Please remove it from cluster, it can be added back.",
    when: "an engine's address now answers with another engine ID",
  },
  InvalidEngineLabel: {
    code: "SWARM_ERR_INVALID_ENGINE_LABEL",
    status: 500,
    message: "Engine (ID: {id}, Addr: {addr}) contains an invalid label ({label}) not formatted as \"key=value\".",
    when: "an engine's daemon labels include one without =",
  },
  UploadIncomplete: {
    code: "SWARM_ERR_UPLOAD_INCOMPLETE",
    status: 500,
    message: "upload to the engine did not complete: {reason}",
    when: "the engine's connection failed, or the upload was cancelled, while a request body was relayed to it",
  },
  UploadReadTwice: {
    code: "SWARM_ERR_UPLOAD_READ_TWICE",
    status: 500,
    message: "an upload body can be read only once",
    when: "the manager tried to relay one upload body twice",
  },
  UploadWithoutDescriptor: {
    code: "SWARM_ERR_UPLOAD_WITHOUT_DESCRIPTOR",
    status: 500,
    message: "the engine connection has no file descriptor to relay the upload to",
    when: "the kernel relay was chosen for an engine connection it cannot write to",
  },
  UploadRelayUnavailable: {
    code: "SWARM_ERR_UPLOAD_RELAY_UNAVAILABLE",
    status: 500,
    message: "the kernel upload relay is not available",
    when: "an upload was handed to the kernel relay where it did not load",
  },

  // ---- Replication and the manager's own endpoints -----------------------------------------------
  NoElectedPrimary: {
    code: "SWARM_ERR_NO_ELECTED_PRIMARY",
    status: 500,
    message: "No elected primary cluster manager: {reason}",
    when: "a replica cannot pass a request on because no primary is known",
  },
  ClientLeftWithoutPrimary: {
    code: "SWARM_ERR_CLIENT_LEFT_WITHOUT_PRIMARY",
    status: 500,
    message: "No elected primary cluster manager: the client went away",
    when: "the client left while a replica waited for a primary to be elected",
  },
  PrimaryUnreachable: {
    code: "SWARM_ERR_PRIMARY_UNREACHABLE",
    status: 500,
    message: "Unable to reach primary cluster manager ({reason}): {primary}",
    when: "a replica could not connect to the primary to pass a request on",
  },
  UnexpectedFailure: {
    code: "SWARM_ERR_UNEXPECTED_FAILURE",
    status: 500,
    message: "{message}",
    when: "something failed that has no entry of its own (a fault in the manager); the failure's own text is passed on",
  },
  NotReady: {
    code: "SWARM_ERR_NOT_READY",
    status: 503,
    message: "not ready: {reason}",
    when: "/readyz is asked while the manager cannot serve the Docker API yet",
  },
  UiPageNotFound: {
    code: "SWARM_ERR_UI_PAGE_NOT_FOUND",
    status: 404,
    message: "page not found: /ui/{path}",
    when: "the cluster view has no such file",
  },
  MetricsFailed: {
    code: "SWARM_ERR_METRICS_FAILED",
    status: 500,
    message: "{message}",
    when: "the metrics registry failed to render, in its own words",
  },
  InvalidProfileSeconds: {
    code: "SWARM_ERR_INVALID_PROFILE_SECONDS",
    status: 400,
    message: "seconds must be a whole number from 1 to {maximum}, got {given}",
    when: "a CPU profile is asked for a length out of range",
  },
  ProfileInProgress: {
    code: "SWARM_ERR_PROFILE_IN_PROGRESS",
    status: 409,
    message: "Could not enable CPU profiling: a CPU profile is already being taken",
    when: "a CPU profile is asked while another one is being taken",
  },

  // ---- Configuration: flags, config file and options (the manager or command does not start) ----
  ConfigFileUnreadable: {
    code: "SWARM_ERR_CONFIG_FILE_UNREADABLE",
    status: 500,
    message: "config file {file}: {reason}",
    when: "the config file given with --config cannot be read or parsed",
  },
  ConfigSearchFailed: {
    code: "SWARM_ERR_CONFIG_SEARCH_FAILED",
    status: 500,
    message: "config file: {reason}",
    when: "a config file found in the working directory cannot be read or parsed",
  },
  ConfigFileInvalid: {
    code: "SWARM_ERR_CONFIG_FILE_INVALID",
    status: 500,
    message: "config file {file} is invalid:\n{problems}",
    when: "the config file does not match the config schema; one line per problem",
  },
  InvalidDuration: {
    code: "SWARM_ERR_INVALID_DURATION",
    status: 500,
    message: "invalid {flag}: {reason}",
    when: "a duration flag or option is not a Go duration such as 30s",
  },
  InvalidAdvertise: {
    code: "SWARM_ERR_INVALID_ADVERTISE",
    status: 500,
    message: "--advertise should be of the form ip:port or hostname:port",
    when: "--advertise is not host:port with a port from 1 to 65535",
  },
  TlsCertAndKeyRequired: {
    code: "SWARM_ERR_TLS_CERT_AND_KEY_REQUIRED",
    status: 500,
    message: "--tlscert and --tlskey must be provided when using --tls",
    when: "--tls or --tlsverify is given without a certificate and key",
  },
  TlsCaRequired: {
    code: "SWARM_ERR_TLS_CA_REQUIRED",
    status: 500,
    message: "--tlscacert must be provided when using --tlsverify",
    when: "--tlsverify is given without a CA certificate",
  },
  TlsFilesWithoutTls: {
    code: "SWARM_ERR_TLS_FILES_WITHOUT_TLS",
    status: 500,
    message: "--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify",
    when: "TLS files are given without --tls or --tlsverify",
  },
  TlsKeyPairUnreadable: {
    code: "SWARM_ERR_TLS_KEY_PAIR_UNREADABLE",
    status: 500,
    message: "Couldn't load X509 key pair ({cert}, {key}): {reason}",
    when: "the TLS certificate or key file cannot be read",
  },
  TlsCaUnreadable: {
    code: "SWARM_ERR_TLS_CA_UNREADABLE",
    status: 500,
    message: "Couldn't read CA certificate: {reason}",
    when: "the TLS CA certificate file cannot be read",
  },
  RefreshMinNotPositive: {
    code: "SWARM_ERR_REFRESH_MIN_NOT_POSITIVE",
    status: 500,
    message: "min refresh interval should be a positive number",
    when: "--engine-refresh-min-interval is not a positive duration",
  },
  RefreshMaxBelowMin: {
    code: "SWARM_ERR_REFRESH_MAX_BELOW_MIN",
    status: 500,
    message: "max refresh interval cannot be less than min refresh interval",
    when: "--engine-refresh-max-interval is shorter than the min interval",
  },
  RefreshRetryDeprecated: {
    code: "SWARM_ERR_REFRESH_RETRY_DEPRECATED",
    status: 500,
    message: "--engine-refresh-retry is deprecated. Use --engine-failure-retry",
    when: "--engine-refresh-retry is given a value other than its default",
  },
  InvalidFailureRetry: {
    code: "SWARM_ERR_INVALID_FAILURE_RETRY",
    status: 500,
    message: "invalid failure retry count",
    when: "--engine-failure-retry is not a positive number",
  },
  DiscoveryRequired: {
    code: "SWARM_ERR_DISCOVERY_REQUIRED",
    status: 500,
    message: "discovery required to {command} a cluster. See 'swarm {command} --help'.",
    when: "manage, join or list is run without a discovery URL",
  },
  HeartbeatTooShort: {
    code: "SWARM_ERR_HEARTBEAT_TOO_SHORT",
    status: 500,
    message: "--heartbeat should be at least one second",
    when: "--heartbeat is shorter than one second",
  },
  OvercommitTooLow: {
    code: "SWARM_ERR_OVERCOMMIT_TOO_LOW",
    status: 500,
    message: "swarm.overcommit should be larger than -1, {value} is invalid",
    when: "the swarm.overcommit cluster option is -1 or less",
  },
  NegativeCreateRetry: {
    code: "SWARM_ERR_NEGATIVE_CREATE_RETRY",
    status: 500,
    message: "swarm.createretry can not be negative, {value} is invalid",
    when: "the swarm.createretry cluster option is negative",
  },
  InvalidCreateRetry: {
    code: "SWARM_ERR_INVALID_CREATE_RETRY",
    status: 500,
    message: "swarm.createretry: invalid integer {value}",
    when: "the swarm.createretry cluster option is not an integer",
  },
  AdvertiseRequired: {
    code: "SWARM_ERR_ADVERTISE_REQUIRED",
    status: 500,
    message: "--advertise address must be provided when using --leader-election",
    when: "replication is turned on without --advertise",
  },
  ReplicationTtlNotPositive: {
    code: "SWARM_ERR_REPLICATION_TTL_NOT_POSITIVE",
    status: 500,
    message: "--replication-ttl should be a positive number",
    when: "--replication-ttl is zero or negative",
  },
  InvalidMetricsAddr: {
    code: "SWARM_ERR_INVALID_METRICS_ADDR",
    status: 500,
    message: "invalid --metrics-addr {value}: expected host:port, e.g. 127.0.0.1:9323",
    when: "--metrics-addr is not host:port",
  },
  MonitorIntervalTooShort: {
    code: "SWARM_ERR_MONITOR_INTERVAL_TOO_SHORT",
    status: 500,
    message: "--monitor-containers should be at least one second",
    when: "--monitor-containers is shorter than one second",
  },
  MonitorConcurrencyTooLow: {
    code: "SWARM_ERR_MONITOR_CONCURRENCY_TOO_LOW",
    status: 500,
    message: "--monitor-concurrency should be at least 1",
    when: "--monitor-concurrency is below one",
  },
  MonitorConcurrencyWithoutInterval: {
    code: "SWARM_ERR_MONITOR_CONCURRENCY_WITHOUT_INTERVAL",
    status: 500,
    message: "--monitor-concurrency needs --monitor-containers <interval>",
    when: "--monitor-concurrency is given without --monitor-containers",
  },
  InvalidHeapGrowth: {
    code: "SWARM_ERR_INVALID_HEAP_GROWTH",
    status: 500,
    message: "invalid --heap-growth {value}: give a whole percentage from 0 (V8's own policy) to 1000",
    when: "--heap-growth or the config's heapGrowth is not a whole number from 0 to 1000",
  },
  UploadIdleTimeoutTooShort: {
    code: "SWARM_ERR_UPLOAD_IDLE_TIMEOUT_TOO_SHORT",
    status: 500,
    message: "--upload-idle-timeout should be at least one second",
    when: "--upload-idle-timeout is shorter than one second",
  },
  UnsupportedProtocol: {
    code: "SWARM_ERR_UNSUPPORTED_PROTOCOL",
    status: 500,
    message: "unsupported protocol: \"{scheme}\"",
    when: "a --host address is neither tcp:// nor unix://",
  },
  InvalidListenAddress: {
    code: "SWARM_ERR_INVALID_LISTEN_ADDRESS",
    status: 500,
    message: "invalid listen address {value}: expected tcp://host:port",
    when: "a tcp:// --host address has no valid port",
  },
  DockerPortInUse: {
    code: "SWARM_ERR_DOCKER_PORT_IN_USE",
    status: 500,
    message: "{reason}: is Docker already running on this machine? Try using a different port",
    when: "the manager cannot listen on port 2375 because the address is in use",
  },
  ListenFailed: {
    code: "SWARM_ERR_LISTEN_FAILED",
    status: 500,
    message: "{message}",
    when: "the manager cannot listen on a --host address, in the operating system's words",
  },
  MetricsListenFailed: {
    code: "SWARM_ERR_METRICS_LISTEN_FAILED",
    status: 500,
    message: "--metrics-addr {addr}: {reason}",
    when: "the manager cannot listen on --metrics-addr",
  },
  DiscoverySchemeNotSupported: {
    code: "SWARM_ERR_DISCOVERY_SCHEME_NOT_SUPPORTED",
    status: 500,
    message: "discovery service not supported: {scheme}:// (supported: {supported})",
    when: "no loaded discovery plugin serves the discovery URL's scheme",
  },
  LeaderElectionNotSupported: {
    code: "SWARM_ERR_LEADER_ELECTION_NOT_SUPPORTED",
    status: 500,
    message: "Leader election is only supported with consul, etcd and zookeeper discovery.",
    when: "replication is turned on with a discovery that no leader plugin serves",
  },
  ClusterDriverNotSupported: {
    code: "SWARM_ERR_CLUSTER_DRIVER_NOT_SUPPORTED",
    status: 500,
    message: "unsupported cluster \"{driver}\" (valid: {valid})",
    when: "--cluster-driver names no loaded backend plugin",
  },
  UnknownClusterOption: {
    code: "SWARM_ERR_UNKNOWN_CLUSTER_OPTION",
    status: 500,
    message: "--cluster-opt {options}: not an option of the {driver} cluster driver ({choices})",
    when: "--cluster-opt names options the cluster driver does not declare",
  },
  StrategyNotSupported: {
    code: "SWARM_ERR_STRATEGY_NOT_SUPPORTED",
    status: 500,
    message: "strategy not supported: {strategy} (valid: {valid})",
    when: "--strategy names no loaded strategy plugin",
  },
  FilterNotSupported: {
    code: "SWARM_ERR_FILTER_NOT_SUPPORTED",
    status: 500,
    message: "filter not supported: {filter} (valid: {valid})",
    when: "--filter names no loaded filter plugin",
  },
  FilterListedTwice: {
    code: "SWARM_ERR_FILTER_LISTED_TWICE",
    status: 500,
    message: "filter {filter} is listed twice in --filter",
    when: "one filter is enabled twice",
  },
  UnknownPluginOptions: {
    code: "SWARM_ERR_UNKNOWN_PLUGIN_OPTIONS",
    status: 500,
    message: "pluginOptions.{plugin}: no plugin named {plugin} is loaded",
    when: "the config file gives options to a plugin that is not loaded",
  },
  UiNotInstalled: {
    code: "SWARM_ERR_UI_NOT_INSTALLED",
    status: 500,
    message: "--ui: the cluster view is not installed; install @swarm/ui next to @swarm/core (npm install @swarm/ui)",
    when: "--ui is given but the @swarm/ui package cannot be found",
  },
  UiNotBuilt: {
    code: "SWARM_ERR_UI_NOT_BUILT",
    status: 500,
    message: "--ui: the cluster view in {root} is not built; run npm run build",
    when: "--ui is given but the cluster view has no built files",
  },
  KeyValueFlagInvalid: {
    code: "SWARM_ERR_KEY_VALUE_FLAG_INVALID",
    status: 500,
    message: "{flag} must contain key=value strings",
    when: "a key=value flag such as --discovery-opt or --cluster-opt has a value without =",
  },
  InvalidLogLevel: {
    code: "SWARM_ERR_INVALID_LOG_LEVEL",
    status: 500,
    message: "invalid log level {level} (options: {options})",
    when: "--log-level names no log level",
  },
  InvalidLogFormat: {
    code: "SWARM_ERR_INVALID_LOG_FORMAT",
    status: 500,
    message: "invalid log format {format} (options: {options})",
    when: "--log-format names no log format",
  },
  WatchConfigWithoutFile: {
    code: "SWARM_ERR_WATCH_CONFIG_WITHOUT_FILE",
    status: 500,
    message: "--watch-config: there is no config file to watch; give one with --config",
    when: "--watch-config is given and no config file was found",
  },
  AdvertiseMissing: {
    code: "SWARM_ERR_ADVERTISE_MISSING",
    status: 500,
    message: "missing mandatory --advertise flag",
    when: "join is run without --advertise",
  },
  NegativeJoinDelay: {
    code: "SWARM_ERR_NEGATIVE_JOIN_DELAY",
    status: 500,
    message: "--delay should not be a negative number",
    when: "join is given a negative --delay",
  },
  TtlNotAboveHeartbeat: {
    code: "SWARM_ERR_TTL_NOT_ABOVE_HEARTBEAT",
    status: 500,
    message: "--ttl must be strictly superior to the heartbeat value",
    when: "join is given a --ttl not longer than its --heartbeat",
  },
  ListTimeoutNotPositive: {
    code: "SWARM_ERR_LIST_TIMEOUT_NOT_POSITIVE",
    status: 500,
    message: "--timeout should be a positive number",
    when: "list is given a --timeout of zero or less",
  },
  ListTimedOut: {
    code: "SWARM_ERR_LIST_TIMED_OUT",
    status: 500,
    message: "Timed out",
    when: "list got no answer from the discovery within --timeout",
  },
  InvalidTokenServiceAddr: {
    code: "SWARM_ERR_INVALID_TOKEN_SERVICE_ADDR",
    status: 500,
    message: "--addr should be of the form ip:port or hostname:port, got {addr}",
    when: "discovery serve is given an --addr that is not host:port",
  },
  CreateTakesNoArguments: {
    code: "SWARM_ERR_CREATE_TAKES_NO_ARGUMENTS",
    status: 500,
    message: "the `create` command takes no arguments. See 'swarm create --help'.",
    when: "create is run with arguments",
  },
  TokenServiceUnreachable: {
    code: "SWARM_ERR_TOKEN_SERVICE_UNREACHABLE",
    status: 500,
    message: "Failed to create a cluster at {url}: {reason} (set SWARM_TOKEN_DISCOVERY_URL to a running token service, e.g. one started with 'swarm discovery serve')",
    when: "create cannot reach the token service",
  },
  TokenServiceRefused: {
    code: "SWARM_ERR_TOKEN_SERVICE_REFUSED",
    status: 500,
    message: "Failed to create a cluster, Discovery service returned {status} HTTP status code",
    when: "the token service answered create with an error status",
  },

  // ---- Plugins: loading, options, creation and calls ---------------------------------------------
  PluginNotFound: {
    code: "SWARM_ERR_PLUGIN_NOT_FOUND",
    status: 500,
    message: "plugin {specifier}: cannot be found from {baseDir}; install it (npm install {specifier}) or give a path",
    when: "a plugin named in the config resolves to no file",
  },
  PluginImportFailed: {
    code: "SWARM_ERR_PLUGIN_IMPORT_FAILED",
    status: 500,
    message: "plugin {specifier}: failed to load {file}: {reason}",
    when: "a plugin's module throws or fails to import",
  },
  InvalidPluginDefinition: {
    code: "SWARM_ERR_INVALID_PLUGIN_DEFINITION",
    status: 500,
    message: "plugin {specifier}: {problem} (export default defineFilter({...}) or another define* helper)",
    when: "a plugin's default export is not a plugin definition, or has a bad kind or name",
  },
  InvalidPluginApiVersion: {
    code: "SWARM_ERR_INVALID_PLUGIN_API_VERSION",
    status: 500,
    message: "{label}: apiVersion {range} is not a semver range such as \"^1\"",
    when: "a plugin's apiVersion is not a semver range",
  },
  PluginApiMismatch: {
    code: "SWARM_ERR_PLUGIN_API_MISMATCH",
    status: 500,
    message: "{label} targets plugin API {range}, this core implements {implemented}; upgrade the plugin or core",
    when: "a plugin targets a plugin API this core does not implement",
  },
  PluginCreateNotFunction: {
    code: "SWARM_ERR_PLUGIN_CREATE_NOT_FUNCTION",
    status: 500,
    message: "{label}: create must be a function",
    when: "a plugin definition's create is not a function",
  },
  PluginSchemesInvalid: {
    code: "SWARM_ERR_PLUGIN_SCHEMES_INVALID",
    status: 500,
    message: "{label}: schemes must be a non-empty array of URL schemes",
    when: "a discovery or leader plugin declares no URL schemes",
  },
  PluginOptionsSchemaInvalid: {
    code: "SWARM_ERR_PLUGIN_OPTIONS_SCHEMA_INVALID",
    status: 500,
    message: "{label}: options must be a TypeBox / JSON Schema object",
    when: "a plugin's options schema is not an object",
  },
  PluginsFailedToLoad: {
    code: "SWARM_ERR_PLUGINS_FAILED_TO_LOAD",
    status: 500,
    message: "{failures}",
    when: "plugins failed to load; one line per plugin, each in the words of its own entry above",
  },
  DuplicatePluginName: {
    code: "SWARM_ERR_DUPLICATE_PLUGIN_NAME",
    status: 500,
    message: "two {kind} plugins are named {name}: {first} ({firstFile}) and {second} ({secondFile}); remove one from \"plugins\"",
    when: "two loaded plugins of one kind have the same name",
  },
  DiscoverySchemeClaimedTwice: {
    code: "SWARM_ERR_DISCOVERY_SCHEME_CLAIMED_TWICE",
    status: 500,
    message: "discovery scheme {scheme}:// is claimed by {first} ({firstSpecifier}) and {second} ({secondSpecifier})",
    when: "two loaded discovery plugins serve the same URL scheme",
  },
  PluginTakesNoOptions: {
    code: "SWARM_ERR_PLUGIN_TAKES_NO_OPTIONS",
    status: 500,
    message: "pluginOptions.{plugin}: {label} takes no options; remove them",
    when: "the config file gives options to a plugin that declares none",
  },
  InvalidPluginOptions: {
    code: "SWARM_ERR_INVALID_PLUGIN_OPTIONS",
    status: 500,
    message: "{label} options are invalid:\n  {problems}",
    when: "a plugin's options do not match its schema; one line per problem",
  },
  PluginCreateFailed: {
    code: "SWARM_ERR_PLUGIN_CREATE_FAILED",
    status: 500,
    message: "{label}: create failed: {reason}",
    when: "a plugin's create threw",
  },
  PluginCreateReturnedNothing: {
    code: "SWARM_ERR_PLUGIN_CREATE_RETURNED_NOTHING",
    status: 500,
    message: "{label}: create returned {value}, expected a {kind} object",
    when: "a plugin's create returned something other than an object",
  },
  PluginInstanceIncomplete: {
    code: "SWARM_ERR_PLUGIN_INSTANCE_INCOMPLETE",
    status: 500,
    message: "{label}: create returned an object without {missing}",
    when: "a plugin's instance lacks methods its kind requires",
  },
  InvalidTieBreak: {
    code: "SWARM_ERR_INVALID_TIE_BREAK",
    status: 500,
    message: "{label}: tieBreak must be \"fewer-containers\", \"more-containers\" or \"none\"",
    when: "a strategy plugin's tieBreak is not one of the three",
  },
  BackendDependencyMissing: {
    code: "SWARM_ERR_BACKEND_DEPENDENCY_MISSING",
    status: 500,
    message: "{label}: the host was given no {what} to create a backend with; provide it first",
    when: "a backend plugin is created before the engine state or placement it needs was provided",
  },
  PluginStartFailed: {
    code: "SWARM_ERR_PLUGIN_START_FAILED",
    status: 500,
    message: "{label}: start failed: {reason}",
    when: "a plugin's start threw, rejected or took too long",
  },
  PluginCallFailed: {
    code: "SWARM_ERR_PLUGIN_CALL_FAILED",
    status: 500,
    message: "{plugin} failed in {operation}: {reason}",
    when: "a call into a plugin (a filter's prepare or judge, a strategy's score, a backend's create) threw something other than a catalog error",
  },
} as const satisfies Readonly<Record<string, ErrorEntry>>;

export type ErrorKey = keyof typeof CATALOG;
export type ErrorCode = (typeof CATALOG)[ErrorKey]["code"];

/** A builder for each entry: `throw errors.NoSuchContainer({ ref })`. */
export const errors = buildersOf(CATALOG);

type TemplateOf<Key extends ErrorKey> = (typeof CATALOG)[Key]["message"];
type ParamsArgument<Key extends ErrorKey> = [Placeholders<TemplateOf<Key>>] extends [never]
  ? [params?: ErrorParams<TemplateOf<Key>>]
  : [params: ErrorParams<TemplateOf<Key>>];

/**
 * An entry with its values filled in, for the subclasses of SwarmError that carry more than a
 * message (EngineError's engine status, SchedulingError's tally) and so cannot come from a builder.
 */
export function fillEntry<Key extends ErrorKey>(key: Key, ...[params]: ParamsArgument<Key>): FilledEntry {
  const entry: ErrorEntry = CATALOG[key];
  return { code: entry.code, status: entry.status, template: entry.message, message: fillTemplate(entry.message, params ?? {}) };
}

/** A catalog key, or a builder (core's or a plugin's): what `isSwarmError` can be asked to match. */
export type ErrorMatch = ErrorKey | Pick<ErrorBuilder, "code">;

/**
 * Is this one of the manager's errors (made by this copy of core or another), and, when `which`
 * is given, one of those entries? Matched by code only.
 */
export function isSwarmError(err: unknown, which?: ErrorMatch | readonly ErrorMatch[]): err is SwarmError {
  if (!hasSwarmErrorShape(err)) return false;
  if (which === undefined) return true;
  const wanted: readonly ErrorMatch[] = typeof which === "string" || !Array.isArray(which) ? [which as ErrorMatch] : which;
  return wanted.some((match) => (typeof match === "string" ? CATALOG[match].code : match.code) === err.code);
}

/** A section of docs/errors.md: a title and the builders whose entries it lists. */
export interface ErrorTableSection {
  readonly title: string;
  readonly source: string;
  readonly errors: Readonly<Record<string, ErrorBuilder>>;
}

/** Inline code that survives backticks and pipes inside it, on one line. */
function markdownCode(text: string): string {
  const cell = text.replaceAll("\n", "\\n").replaceAll("|", "\\|");
  return cell.includes("`") ? `\`\` ${cell} \`\`` : `\`${cell}\``;
}

function renderSection(section: ErrorTableSection): string[] {
  return [
    `## ${section.title}`,
    "",
    `From \`${section.source}\`.`,
    "",
    "| code | status | message | when |",
    "|---|---|---|---|",
    ...Object.values(section.errors).map(
      (builder) => `| \`${builder.code}\` | ${builder.status} | ${markdownCode(builder.template)} | ${builder.when.replaceAll("|", "\\|")} |`,
    ),
    "",
  ];
}

/** docs/errors.md: core's table, then each plugin's (kept in step by a test). */
export function renderErrorCatalog(plugins: readonly ErrorTableSection[] = []): string {
  return [
    "# Errors",
    "",
    "Every error the manager answers is `{\"message\": \"…\"}` with the HTTP status below. The manager's",
    "own code tells errors apart by their code, which a client never sees. `{name}` in a message stands",
    "for a value, and `\\n` for a line break. Where an entry passes another party's status on (an",
    "engine's), the status below is the one answered otherwise. Each built-in plugin's own errors follow",
    "core's, with codes `SWARM_ERR_<PLUGIN>_<KEY>`. Generated by `npm run docs:errors`; a test fails",
    "when this file and the tables differ.",
    "",
    ...renderSection({ title: "Core", source: "core/src/errors/catalog.ts", errors }),
    ...[...plugins].sort((a, b) => a.title.localeCompare(b.title)).flatMap(renderSection),
  ].join("\n");
}
