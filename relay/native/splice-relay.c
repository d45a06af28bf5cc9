/*
 * Moves an HTTP request body from a client socket to an engine socket inside the kernel.
 *
 * A streamed upload through the manager otherwise crosses user space twice per byte (read into a
 * JavaScript Buffer, written out again). splice(2) through a pipe moves the same pages without a
 * copy and without waking JavaScript, which on a small machine is the difference between the
 * manager costing an upload 20% or 10% of its throughput.
 *
 * The body is forwarded verbatim, chunk framing included, with one exception: the last chunk and
 * its trailers are consumed and not forwarded, because the caller's HTTP client writes its own
 * terminator when it ends the request. A content-length body is forwarded byte for byte.
 *
 * Spliced bytes gather in the pipe and leave in batches; the framing between chunks is looked at
 * with MSG_PEEK and spliced along with the data, so a 32 KiB chunk costs two system calls.
 *
 * Each relay runs on a thread of its own (an upload may last minutes; libuv's small thread pool
 * must stay free for file and DNS work) and blocks in poll(2) on the sockets and on a pipe that
 * `cancel` writes to. It works on duplicates of Node's descriptors, so that a socket Node closes
 * meanwhile cannot have its number reused under the relay; the caller cancels the relay when it
 * closes either socket. An engine that stops taking the body (it answered early and closed, or
 * failed) gets none of the rest, which is still read to its end so that the client can read the
 * answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PIPE_CAPACITY (1 << 20)
/* Spliced bytes wait in the pipe until this many have gathered (or input runs dry), so that the
 * engine gets a few large writes rather than one per 32 KiB chunk of the client's. */
#define FLUSH_AT (512 * 1024)
/* Framing longer than this is not HTTP; Node's own parser allows far less. */
#define MAX_FRAME 4096
/* A frame is usually 8 bytes ("\r\n8000\r\n"); a peek of this many finds it without copying much data. */
#define PEEK_SIZE 64
#define MAX_CHUNK_SIZE ((int64_t)1 << 46)

enum { SIGNAL_CANCEL = 1, SIGNAL_DROP = 2 };

/* Bumped whenever start()'s arguments change. */
#define RELAY_ABI 2

typedef enum { OUTCOME_DONE, OUTCOME_TRUNCATED, OUTCOME_BAD_CHUNK, OUTCOME_CLIENT_ERROR, OUTCOME_ENGINE_ERROR, OUTCOME_CANCELLED, OUTCOME_IDLE } outcome_t;

static const char *outcome_names[] = {"done", "truncated", "bad-chunk", "client-error", "engine-error", "cancelled", "idle"};

typedef struct {
  int in_fd;
  int out_fd; /* the engine's socket, or /dev/null to read the body and drop it */
  int chunked;
  int64_t length; /* content-length bodies */
  int idle_ms;    /* how long the client may send nothing before the relay gives up; -1: for ever */
  char *head;     /* body bytes the HTTP server had already read */
  size_t head_len, head_pos;
  int cancel_r, cancel_w;
  int pipe_r, pipe_w;
  size_t pipe_size, pipe_fill;
  int null_fd; /* opened here when the body is dropped */
  int finished; /* touched on the JavaScript thread only */
  outcome_t outcome;
  int error_number;
  int64_t forwarded;
  napi_threadsafe_function tsfn;
  napi_deferred deferred;
  napi_ref self; /* keeps the handle, and so this struct, alive while the thread runs */
} relay_t;

static void close_quietly(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* Records the first failure: a client that breaks off while the body is being dropped after
 * the engine failed is not what went wrong. */
static int fail(relay_t *r, outcome_t outcome, int error_number) {
  if (r->outcome == OUTCOME_DONE) {
    r->outcome = outcome;
    r->error_number = error_number;
  }
  return -1;
}

/* The engine takes no more of the body (it failed, or its socket was let go): the rest is read
 * and dropped, because a client still sending reads the engine's answer only when done. */
static int stop_forwarding(relay_t *r, int error_number) {
  if (r->null_fd >= 0) return 0;
  if (error_number != 0) fail(r, OUTCOME_ENGINE_ERROR, error_number);
  r->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (r->null_fd < 0) return fail(r, OUTCOME_ENGINE_ERROR, errno);
  close_quietly(&r->out_fd);
  r->out_fd = r->null_fd;
  return 0;
}

/* Waits until fd is ready for `events`, at most timeout_ms (-1: no limit); -1 when cancelled or
 * out of time. Readiness, hang-up or error alike return 0: the next call on fd tells which. */
static int wait_for(relay_t *r, int fd, short events, int timeout_ms) {
  struct pollfd fds[2] = {{.fd = fd, .events = events}, {.fd = r->cancel_r, .events = POLLIN}};
  for (;;) {
    int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return fail(r, OUTCOME_IDLE, 0);
    if (n < 0 || (fds[1].revents & (POLLHUP | POLLERR))) return fail(r, OUTCOME_CANCELLED, 0);
    if (fds[1].revents & POLLIN) {
      char signals[16];
      ssize_t count = read(r->cancel_r, signals, sizeof signals);
      int cancel = count <= 0, drop = 0;
      for (ssize_t i = 0; i < count; i++) {
        if (signals[i] == SIGNAL_CANCEL) cancel = 1;
        if (signals[i] == SIGNAL_DROP) drop = 1;
      }
      if (cancel) return fail(r, OUTCOME_CANCELLED, 0);
      /* The caller retries, on /dev/null if it was waiting for the engine. */
      if (drop) return stop_forwarding(r, 0);
    }
    return 0;
  }
}

/* Moves everything in the pipe to the engine. */
static int flush(relay_t *r) {
  while (r->pipe_fill > 0) {
    ssize_t n = splice(r->pipe_r, NULL, r->out_fd, NULL, r->pipe_fill, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      r->pipe_fill -= (size_t)n;
      if (r->null_fd < 0) r->forwarded += n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* The engine pushes back: no time limit, the client is not the one waiting. */
      if (wait_for(r, r->out_fd, POLLOUT, -1) < 0) return -1;
    } else if (stop_forwarding(r, n < 0 ? errno : EPIPE) < 0) {
      return -1;
    }
  }
  return 0;
}

/* Nothing to read yet: what has gathered goes out first, then wait for the client. */
static int wait_input(relay_t *r) {
  if (flush(r) < 0) return -1;
  return wait_for(r, r->in_fd, POLLIN, r->idle_ms);
}

/* Copies bytes this code holds (framing, or body bytes read with the head) into the pipe. */
static int pipe_bytes(relay_t *r, const char *data, size_t len) {
  while (len > 0) {
    if (r->pipe_fill == r->pipe_size && flush(r) < 0) return -1;
    size_t room = r->pipe_size - r->pipe_fill;
    ssize_t n = write(r->pipe_w, data, len < room ? len : room);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(r, OUTCOME_ENGINE_ERROR, n < 0 ? errno : EIO);
    r->pipe_fill += (size_t)n;
    data += n;
    len -= (size_t)n;
  }
  return r->pipe_fill >= FLUSH_AT ? flush(r) : 0;
}

/* Splices exactly `left` bytes from the client's socket into the pipe. */
static int splice_in(relay_t *r, int64_t left) {
  while (left > 0) {
    if (r->pipe_fill == r->pipe_size && flush(r) < 0) return -1;
    size_t room = r->pipe_size - r->pipe_fill;
    ssize_t n = splice(r->in_fd, NULL, r->pipe_w, NULL, left < (int64_t)room ? (size_t)left : room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      r->pipe_fill += (size_t)n;
      left -= n;
      if (r->pipe_fill >= FLUSH_AT && flush(r) < 0) return -1;
    } else if (n == 0) {
      return fail(r, OUTCOME_TRUNCATED, 0);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_input(r) < 0) return -1;
    } else {
      return fail(r, OUTCOME_CLIENT_ERROR, errno);
    }
  }
  return 0;
}

/* Body bytes: those read with the head first, then the socket's. */
static int forward_body(relay_t *r, int64_t left) {
  size_t held = r->head_len - r->head_pos;
  size_t take = (int64_t)held < left ? held : (size_t)left;
  if (take > 0) {
    if (pipe_bytes(r, r->head + r->head_pos, take) < 0) return -1;
    r->head_pos += take;
    left -= (int64_t)take;
  }
  return splice_in(r, left);
}

/* Takes exactly `len` bytes off the client's socket and drops them. */
static int drop(relay_t *r, size_t len) {
  char scratch[MAX_FRAME];
  while (len > 0) {
    ssize_t n = recv(r->in_fd, scratch, len < sizeof scratch ? len : sizeof scratch, 0);
    if (n > 0) len -= (size_t)n;
    else if (n == 0) return fail(r, OUTCOME_TRUNCATED, 0);
    else if (errno == EINTR) continue;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (wait_input(r) < 0) return -1;
    } else return fail(r, OUTCOME_CLIENT_ERROR, errno);
  }
  return 0;
}

/* Looks at up to `max` bytes the client has sent, waiting for at least one; -1 on failure. */
static ssize_t peek_input(relay_t *r, char *into, size_t max) {
  for (;;) {
    ssize_t n = recv(r->in_fd, into, max, MSG_PEEK);
    if (n > 0) return n;
    if (n == 0) return fail(r, OUTCOME_TRUNCATED, 0);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(r, OUTCOME_CLIENT_ERROR, errno);
    if (wait_input(r) < 0) return -1;
  }
}

/* The size of a chunk-size line ("1f4;ext=x\r\n"), or -1. */
static int64_t chunk_size(const char *line, size_t len) {
  if (len < 3 || line[len - 2] != '\r') return -1;
  int64_t size = 0;
  size_t i = 0;
  for (; i < len - 2; i++) {
    char c = line[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) break;
    size = size * 16 + digit;
    if (size > MAX_CHUNK_SIZE) return -1;
  }
  if (i == 0) return -1;
  if (i < len - 2 && line[i] != ';' && line[i] != ' ' && line[i] != '\t') return -1;
  return size;
}

/* The framing between two chunks' data: the CRLF that ends the previous chunk (unless `first`)
 * and the next chunk-size line. */
typedef struct {
  char bytes[MAX_FRAME];
  size_t total;    /* its length */
  size_t taken;    /* bytes already taken off the head or the socket; the rest is still in the socket */
  int64_t size;    /* the next chunk's size */
} frame_t;

/*
 * Reads the next frame, looking at the socket with MSG_PEEK so that its bytes can be spliced
 * along with the data after them. Only a frame split across arrivals is taken off the socket
 * piecemeal: waiting for more of it must not find the same bytes ready again.
 */
static int read_frame(relay_t *r, int first, frame_t *f) {
  size_t have = 0;
  f->taken = 0;
  for (;;) {
    int from_head = r->head_pos < r->head_len;
    if (have == MAX_FRAME) return fail(r, OUTCOME_BAD_CHUNK, 0);
    size_t room = MAX_FRAME - have;
    ssize_t n;
    if (from_head) {
      size_t held = r->head_len - r->head_pos;
      n = (ssize_t)(held < room ? held : room);
      memcpy(f->bytes + have, r->head + r->head_pos, (size_t)n);
      r->head_pos += (size_t)n;
      f->taken += (size_t)n;
    } else {
      n = peek_input(r, f->bytes + have, room < PEEK_SIZE ? room : PEEK_SIZE);
      if (n < 0) return -1;
    }
    have += (size_t)n;
    size_t line = first ? 0 : 2;
    if (!first && have >= 2 && (f->bytes[0] != '\r' || f->bytes[1] != '\n')) return fail(r, OUTCOME_BAD_CHUNK, 0);
    const char *lf = have > line ? memchr(f->bytes + line, '\n', have - line) : NULL;
    if (lf) {
      f->total = (size_t)(lf - f->bytes) + 1;
      f->size = chunk_size(f->bytes + line, f->total - line);
      if (f->size < 0) return fail(r, OUTCOME_BAD_CHUNK, 0);
      if (f->taken > f->total) {
        /* Bytes copied from the head past the frame are data: give them back. */
        r->head_pos -= f->taken - f->total;
        f->taken = f->total;
      }
      return 0;
    }
    if (!from_head) {
      ssize_t got = recv(r->in_fd, f->bytes + f->taken, (size_t)n, 0);
      if (got != n) return fail(r, OUTCOME_CLIENT_ERROR, got < 0 ? errno : EIO);
      f->taken += (size_t)n;
      if (wait_input(r) < 0) return -1;
    }
  }
}

/* Reads up to and including the next LF and drops it; *crlf_only tells whether it was empty. */
static int skip_line(relay_t *r, int *crlf_only) {
  char line[MAX_FRAME];
  size_t len = 0;
  for (;;) {
    if (len == MAX_FRAME) return fail(r, OUTCOME_BAD_CHUNK, 0);
    size_t room = MAX_FRAME - len;
    const char *lf;
    size_t take;
    if (r->head_pos < r->head_len) {
      size_t held = r->head_len - r->head_pos;
      size_t n = held < room ? held : room;
      lf = memchr(r->head + r->head_pos, '\n', n);
      take = lf ? (size_t)(lf - (r->head + r->head_pos)) + 1 : n;
      memcpy(line + len, r->head + r->head_pos, take);
      r->head_pos += take;
    } else {
      ssize_t n = peek_input(r, line + len, room);
      if (n < 0) return -1;
      lf = memchr(line + len, '\n', (size_t)n);
      take = lf ? (size_t)(lf - (line + len)) + 1 : (size_t)n;
      if (drop(r, take) < 0) return -1;
    }
    len += take;
    if (lf) {
      *crlf_only = len == 2 && line[0] == '\r';
      return 0;
    }
  }
}

static int run_chunked(relay_t *r) {
  frame_t f;
  for (int first = 1;; first = 0) {
    if (read_frame(r, first, &f) < 0) return -1;
    if (f.size == 0) {
      /* The previous chunk's CRLF is forwarded; the last chunk and its trailers are not. */
      size_t keep = first ? 0 : 2;
      size_t held = f.taken < keep ? f.taken : keep;
      if (pipe_bytes(r, f.bytes, held) < 0 || splice_in(r, (int64_t)(keep - held)) < 0) return -1;
      if (f.taken < f.total && drop(r, f.total - (f.taken > keep ? f.taken : keep)) < 0) return -1;
      break;
    }
    if (pipe_bytes(r, f.bytes, f.taken) < 0) return -1;
    if (f.taken < f.total) {
      /* The rest of the frame is still in the socket, so the head is spent: one splice moves it and the data. */
      if (splice_in(r, (int64_t)(f.total - f.taken) + f.size) < 0) return -1;
    } else if (forward_body(r, f.size) < 0) {
      return -1;
    }
  }
  for (int end = 0; !end;)
    if (skip_line(r, &end) < 0) return -1;
  return 0;
}

static void *relay_thread(void *arg) {
  relay_t *r = arg;
  r->outcome = OUTCOME_DONE;
  if ((r->chunked ? run_chunked(r) : forward_body(r, r->length)) == 0) flush(r);
  napi_call_threadsafe_function(r->tsfn, r, napi_tsfn_blocking);
  return NULL;
}

/* Everything the relay holds but its struct; safe to call twice. */
static void release_descriptors(relay_t *r) {
  close_quietly(&r->in_fd);
  if (r->out_fd != r->null_fd) close_quietly(&r->out_fd);
  r->out_fd = -1;
  close_quietly(&r->null_fd);
  close_quietly(&r->cancel_r);
  close_quietly(&r->pipe_r);
  close_quietly(&r->pipe_w);
}

static void relay_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  relay_t *r = data;
  close_quietly(&r->cancel_w);
  free(r->head);
  free(r);
}

/* On the JavaScript thread, once the relay thread is done. */
static void relay_settle(napi_env env, napi_value js_callback, void *context, void *data) {
  (void)js_callback;
  (void)context;
  relay_t *r = data;
  r->finished = 1;
  release_descriptors(r);
  /* signal() writes to it only while the relay runs, on this same thread: it can go now, not when
   * the collector finally finalizes the handle (an idle manager may not collect for hours). */
  close_quietly(&r->cancel_w);
  napi_threadsafe_function tsfn = r->tsfn;
  if (env != NULL) {
    napi_value result, outcome, error_number, forwarded;
    napi_create_object(env, &result);
    napi_create_string_utf8(env, outcome_names[r->outcome], NAPI_AUTO_LENGTH, &outcome);
    napi_create_int32(env, r->error_number, &error_number);
    napi_create_double(env, (double)r->forwarded, &forwarded);
    napi_set_named_property(env, result, "outcome", outcome);
    napi_set_named_property(env, result, "errno", error_number);
    napi_set_named_property(env, result, "forwarded", forwarded);
    napi_resolve_deferred(env, r->deferred, result);
    napi_delete_reference(env, r->self);
  }
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
}

/* Descriptors and buffers for a relay; an error message, or NULL. */
static const char *prepare(relay_t *r, int in_fd, int out_fd, const void *head, size_t head_len) {
  r->in_fd = r->out_fd = r->cancel_r = r->cancel_w = r->pipe_r = r->pipe_w = r->null_fd = -1;
  r->in_fd = fcntl(in_fd, F_DUPFD_CLOEXEC, 0);
  if (r->in_fd < 0) return "start: cannot duplicate the client's socket descriptor";
  r->out_fd = out_fd >= 0 ? fcntl(out_fd, F_DUPFD_CLOEXEC, 0) : (r->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (r->out_fd < 0) return "start: cannot duplicate the engine's socket descriptor";
  if (head_len > 0) {
    r->head = malloc(head_len);
    if (r->head == NULL) return "start: out of memory";
    memcpy(r->head, head, head_len);
    r->head_len = head_len;
  }
  int cancel_pipe[2], data_pipe[2];
  if (pipe2(cancel_pipe, O_CLOEXEC) < 0) return "start: cannot create a pipe";
  r->cancel_r = cancel_pipe[0];
  r->cancel_w = cancel_pipe[1];
  if (pipe2(data_pipe, O_CLOEXEC) < 0) return "start: cannot create a pipe";
  r->pipe_r = data_pipe[0];
  r->pipe_w = data_pipe[1];
  /* A bigger pipe means fewer trips through it; the default (64 KiB) still works. */
  fcntl(r->pipe_w, F_SETPIPE_SZ, PIPE_CAPACITY);
  int pipe_size = fcntl(r->pipe_w, F_GETPIPE_SZ);
  r->pipe_size = pipe_size > 0 ? (size_t)pipe_size : 65536;
  return NULL;
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* start(inFd, outFd, chunked, length, head) → [Promise<{outcome, errno, forwarded}>, handle] */
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 6) return throw_error(env, "start(inFd, outFd, chunked, length, head, idleMs) takes six arguments");
  int32_t idle_ms;
  if (napi_get_value_int32(env, argv[5], &idle_ms) != napi_ok) return throw_error(env, "start: idleMs must be a number");
  int32_t in_fd, out_fd;
  bool chunked;
  double length;
  if (napi_get_value_int32(env, argv[0], &in_fd) != napi_ok || napi_get_value_int32(env, argv[1], &out_fd) != napi_ok ||
      napi_get_value_bool(env, argv[2], &chunked) != napi_ok || napi_get_value_double(env, argv[3], &length) != napi_ok)
    return throw_error(env, "start: bad argument types");
  void *head_data = NULL;
  size_t head_len = 0;
  if (napi_get_buffer_info(env, argv[4], &head_data, &head_len) != napi_ok) return throw_error(env, "start: head must be a Buffer");

  relay_t *r = calloc(1, sizeof *r);
  if (r == NULL) return throw_error(env, "start: out of memory");
  const char *problem = prepare(r, in_fd, out_fd, head_data, head_len);
  if (problem != NULL) {
    release_descriptors(r);
    close_quietly(&r->cancel_w);
    free(r->head);
    free(r);
    return throw_error(env, problem);
  }
  r->chunked = chunked;
  r->length = (int64_t)length;
  r->idle_ms = idle_ms > 0 ? idle_ms : -1;

  napi_value promise, handle, name, pair;
  napi_create_promise(env, &r->deferred, &promise);
  napi_create_string_utf8(env, "splice relay", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, relay_settle, &r->tsfn);
  napi_create_external(env, r, relay_finalize, NULL, &handle);
  napi_create_reference(env, handle, 1, &r->self);

  pthread_t thread;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  int failed = pthread_create(&thread, &attr, relay_thread, r);
  pthread_attr_destroy(&attr);
  if (failed) {
    r->outcome = OUTCOME_CLIENT_ERROR;
    r->error_number = failed;
    relay_settle(env, NULL, NULL, r);
  }
  napi_create_array_with_length(env, 2, &pair);
  napi_set_element(env, pair, 0, promise);
  napi_set_element(env, pair, 1, handle);
  return pair;
}

/* signal(handle, kind): 1 stops the relay at its next wait ("cancelled"); 2 makes it drop the
 * rest of the body instead of forwarding it. */
static napi_value signal_relay(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  relay_t *r = NULL;
  int32_t kind = 0;
  if (argc != 2 || napi_get_value_external(env, argv[0], (void **)&r) != napi_ok || r == NULL ||
      napi_get_value_int32(env, argv[1], &kind) != napi_ok || (kind != SIGNAL_CANCEL && kind != SIGNAL_DROP))
    return throw_error(env, "signal(handle, kind): bad arguments");
  if (!r->finished && r->cancel_w >= 0) {
    char byte = (char)kind;
    ssize_t ignored = write(r->cancel_w, &byte, 1);
    (void)ignored;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"start", NULL, start, NULL, NULL, NULL, napi_default, NULL},
      {"signal", NULL, signal_relay, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 2, properties);
  /* What start() takes: the JavaScript side refuses an addon built from other sources. */
  napi_value abi;
  napi_create_int32(env, RELAY_ABI, &abi);
  napi_set_named_property(env, exports, "abi", abi);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
