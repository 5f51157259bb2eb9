/* SPDX-License-Identifier: MIT */
/*
 * The socket server: accepts clients on a SOCK_SEQPACKET Unix socket,
 * records their credentials, reads one request per datagram and hands it
 * to requests.c; replies leave through reply.c. Single-threaded on a
 * libevent base. The types are in types.h.
 */
#ifndef DMABUFD_SERVER_H
#define DMABUFD_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "types.h"

/**
 * server_init() - set up a server around an already-created backend.
 * @base: the event loop
 * @backend: owned by the server from now on (destroyed by server_finish)
 * Return: 0, -ENOMEM.
 */
int server_init(struct server *s, struct event_base *base, struct backend *backend,
		const struct server_limits *limits);

/**
 * server_add_backend() - make @backend active too, after those already
 * active (several backends at once): it gets its own region and, if it
 * has deferred release, its events are watched (and its live buffers
 * adopted). Call after server_init(), before serving.
 * @backend: owned by the server on success; untouched on failure
 * Return: 0; -ENOSPC (SERVER_MAX_BACKENDS active already); -EINVAL (its
 * region cannot be created); -ENOMEM; negative errno of its rebuild().
 */
int server_add_backend(struct server *s, struct backend *backend);

/**
 * server_listen_path() - create, bind and listen on @path.
 * Refuses to clobber: an existing non-socket at @path gives -EEXIST; a
 * socket a live daemon answers on gives -EADDRINUSE; a stale socket is
 * replaced. @mode is the socket file's mode (e.g. 0660).
 * Return: 0, -ENAMETOOLONG, -EEXIST, -EADDRINUSE, other negative errno.
 */
int server_listen_path(struct server *s, const char *path, mode_t mode);

/**
 * server_listen_fd() - serve on an already-listening socket (socket
 * activation). Return: 0, -ENOTSOCK/-EINVAL when @fd is not a listening
 * SOCK_SEQPACKET AF_UNIX socket, -ENOMEM.
 */
int server_listen_fd(struct server *s, int fd);

/**
 * server_adopt_client() - serve a connected SOCK_SEQPACKET socket as a new
 * client (accept() calls this; tests and fuzz targets pass one end of a
 * socketpair). The peer's credentials come from SO_PEERCRED. @fd must be
 * non-blocking; on success the server owns it.
 * The access policy ([access]) is checked here: a refused peer gives
 * -EACCES and s->refusal holds the reason to send it; then the connection
 * limits (limit.h: max-clients, the administrators' slots,
 * max-connections-per-uid): -EUSERS, the reason in s->refusal. The
 * connection gets its Hello deadline ([limits] hello-timeout).
 * Return: 0; -EACCES; -EUSERS; -ENOMEM; negative errno from getsockopt(2)
 * (@fd untouched on every failure).
 */
int server_adopt_client(struct server *s, int fd);

/**
 * client_destroy() - disconnect @c: its socket is closed, its queued
 * replies are dropped, its shared buffers pass to their importers and the
 * rest are released: CLOSE_BUDGET of them at once, the others in its uid's
 * next turns (all at once while the daemon stops). @c must not be used
 * after the call.
 */
void client_destroy(struct client *c);

/** server_finish() - disconnect everyone, release every buffer, free all. */
void server_finish(struct server *s);

/**
 * server_apply_config() - make @c's runtime part (policy, max-clients,
 * max-buffers-per-client, [limits]) current. Takes ownership of c->policy (the old
 * policy is freed). Connected clients stay connected, and buffers already
 * charged stay charged even when the new quotas are lower; the new limits
 * apply to the next request.
 */
void server_apply_config(struct server *s, struct config *c);

/**
 * server_teach_pools() - start filling every pool of placed buffers
 * (kmod, udmabuf: kpool.h) with the configured classes ([pool] classes,
 * --pool-classes), as if a request had missed each; a class a backend
 * cannot make (attribute, size beyond its region or pool budget) is left
 * out there, and logged. Call after server_apply_config() and after the fd
 * store's buffers are restored (the pool places around them). Memfd and
 * dma-heap pools got their classes at creation (backend_options).
 */
void server_teach_pools(struct server *s);

/**
 * server_set_fd_budget() - size the buffers' share of the daemon's fds
 * from @nofile (RLIMIT_NOFILE) less a reserve for s->limits.max_clients
 * connections, @pool_fds pooled buffers and the daemon's own fds, and the
 * per-uid share from the configuration ([limits] max-buffers-per-uid,
 * expected-uids); logs the result. Call after server_apply_config(). A
 * server without it has no fd budget (in-process tests).
 */
void server_set_fd_budget(struct server *s, uint64_t nofile, uint32_t pool_fds);

/**
 * server_reload_config() - SIGHUP: re-read s->config_source and apply it.
 * Keys that need a restart (socket, backend, capacity, socket-mode) are
 * compared and a change is logged as ignored.
 * Return: 0 (reloaded); -EINVAL/-ENOENT/-ENOMEM (errors logged; the old
 * configuration stays in force); -EBADF when the server has no source.
 */
int server_reload_config(struct server *s);

/**
 * server_format_status() - the one-line state for the service manager's
 * STATUS= (backend, buffers, orphans, bytes, clients) into @buf (@len
 * bytes, NUL-terminated). @ctx is the struct server (sd.h's
 * service_init() takes it as a status callback).
 */
void server_format_status(char *buf, size_t len, void *ctx);

#endif
