/* SPDX-License-Identifier: MIT */
/*
 * The configuration file, parsed with libinih (Debian's libinih1, r55):
 * inih does the INI syntax, this file the schema. libinih r55 as built by
 * Debian does not pass line numbers to the handler (INI_HANDLER_LINENO is
 * 0), so the file is fed through ini_parse_stream() with a reader that
 * counts lines: when the handler runs, the reader has just returned the
 * line being handled.
 */
#include "config.h"
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "log.h"
#include "macros.h"
#include "parse.h"
#include "backend/probe.h"

/* Upper bounds for [share] (and [access] lists): a client controls these. */
#define SHARE_TARGETS_CAP 128u
#define SHARE_TOKENS_CAP 65536u
#define SHARE_IMPORTERS_CAP 256u /* a List entry with all of them fits a datagram */
#define SHARE_EXPIRY_CAP (7u * 24 * 3600)
#define ACCESS_LIST_CAP 1024u
#define QUOTA_RULES_CAP 4096u

/* Bits of quota_parse.set */
enum {
	SET_BYTES = 1u << 0,
	SET_BUFFERS = 1u << 1,
	SET_ATTR0 = 1u << 2, /* + attribute */
};

void config_error(struct parse_ctx *ctx, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s:%u: %s", ctx->path, ctx->line, msg);
	ctx->errors++;
}

int config_parse_size(const char *s, uint64_t *ret)
{
	/* common/parse.c, shared with dmabufctl; -ERANGE counts as invalid. */
	return parse_size(s, ret) < 0 ? -EINVAL : 0;
}

int config_parse_u32(const char *s, uint32_t min, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || !isdigit((unsigned char)s[0]) || v > UINT32_MAX || v < min)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

/* A quota value: a size or "unlimited". */
static int parse_quota_value(const char *s, bool is_count, uint64_t *ret)
{
	uint32_t n;

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "infinity") == 0) {
		*ret = QUOTA_UNLIMITED;
		return 0;
	}
	if (is_count) {
		if (config_parse_u32(s, 0, &n) < 0)
			return -EINVAL;
		*ret = n;
		return 0;
	}
	return config_parse_size(s, ret);
}

/* A user name or a decimal uid. */
static int resolve_user(const char *s, uid_t *ret)
{
	struct passwd *pw;
	uint32_t id;

	if (isdigit((unsigned char)s[0]))
		return config_parse_u32(s, 0, &id) < 0 || id == UINT32_MAX ? -EINVAL : (*ret = id, 0);
	pw = getpwnam(s);
	if (!pw)
		return -ENOENT;
	*ret = pw->pw_uid;
	return 0;
}

static int resolve_group(const char *s, gid_t *ret)
{
	struct group *gr;
	uint32_t id;

	if (isdigit((unsigned char)s[0]))
		return config_parse_u32(s, 0, &id) < 0 || id == UINT32_MAX ? -EINVAL : (*ret = id, 0);
	gr = getgrnam(s);
	if (!gr)
		return -ENOENT;
	*ret = gr->gr_gid;
	return 0;
}

/* Splits @value on whitespace and commas; resolves each word. */
static int parse_id_list(struct parse_ctx *ctx, const char *key, const char *value, bool groups,
			 uint32_t **ret, size_t *ret_n, bool *ret_star)
{
	_cleanup_free_ char *copy = strdup(value);
	_cleanup_free_ uint32_t *ids = NULL;
	size_t n = 0;
	char *save = NULL, *w;

	if (!copy)
		return -ENOMEM;
	*ret_star = false;
	for (w = strtok_r(copy, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
		uint32_t id;
		int err;

		if (!groups && strcmp(w, "*") == 0) {
			*ret_star = true;
			continue;
		}
		if (n >= ACCESS_LIST_CAP) {
			config_error(ctx, "%s: more than %u entries", key, ACCESS_LIST_CAP);
			return -EINVAL;
		}
		err = groups ? resolve_group(w, &id) : resolve_user(w, &id);
		if (err < 0) {
			config_error(ctx, "%s: '%s' is not a known %s or a number", key, w,
				     groups ? "group" : "user");
			return -EINVAL;
		}
		if (!(n & (n + 1))) { /* grow at 0, 1, 3, 7, ... */
			uint32_t *m = realloc(ids, (2 * n + 2) * sizeof(*ids));

			if (!m)
				return -ENOMEM;
			ids = m;
		}
		ids[n++] = id;
	}
	*ret = TAKE_PTR(ids);
	*ret_n = n;
	return 0;
}

/*
 * One quota key ("bytes", "buffers", "<attr>-bytes") into @q.
 * Return: 1 handled, 0 unknown key, -EINVAL bad value (reported).
 */
static int quota_key(struct parse_ctx *ctx, const char *key, const char *shown, const char *value,
		     struct quota_limits *q, unsigned *set)
{
	uint64_t v;

	if (strcmp(key, "bytes") == 0 || strcmp(key, "buffers") == 0) {
		bool count = key[1] == 'u';

		if (parse_quota_value(value, count, &v) < 0) {
			config_error(ctx, "%s: '%s' is not %s or 'unlimited'", shown, value,
				     count ? "a number" : "a size (bytes, K, M, G)");
			return -EINVAL;
		}
		if (count) {
			q->buffers = v;
			*set |= SET_BUFFERS;
		} else {
			q->bytes = v;
			*set |= SET_BYTES;
		}
		return 1;
	}
	for (int a = 0; a < ATTR_COUNT; a++) {
		if (strcmp(key, policy_quota_attr_key(a)) != 0)
			continue;
		if (parse_quota_value(value, false, &v) < 0) {
			config_error(ctx, "%s: '%s' is not a size (bytes, K, M, G) or 'unlimited'",
				     shown, value);
			return -EINVAL;
		}
		q->attr_bytes[a] = v;
		*set |= SET_ATTR0 << a;
		return 1;
	}
	return 0;
}

/* [daemon] backends = kmod,dma-heap,... (probe order) and the dma-heap heap lists. */
static int handle_backend_lists(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *c = ctx->cfg;
	char names[PROBE_MAX_BACKENDS][16];
	size_t n;
	char **slot;

	if (strcmp(name, "backends") == 0) {
		if (probe_parse_order(value, names, &n) < 0) {
			config_error(ctx, "backends: '%s' is not a comma-separated list of distinct "
				     "names out of kmod, dma-heap, udmabuf, memfd", value);
			return 0;
		}
		slot = &c->backends;
	} else {
		if (strlen(value) > 1024) {
			config_error(ctx, "%s: list longer than 1024 bytes", name);
			return 0;
		}
		slot = strcmp(name, "dma-heap-contiguous") == 0 ? &c->heaps_contiguous :
		       strcmp(name, "dma-heap-write-combine") == 0 ? &c->heaps_writecombine :
								      &c->heaps_uncached;
	}
	free(*slot);
	*slot = strdup(value);
	return *slot ? 1 : -ENOMEM;
}

static int handle_daemon(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct config *c = ctx->cfg;
	uint64_t size;
	char *end;

	if (strcmp(name, "socket") == 0) {
		if (value[0] != '/' || strlen(value) >= 108) {
			config_error(ctx, "socket: '%s' is not an absolute path shorter than 108 bytes",
				     value);
			return 0;
		}
		free(c->socket_path);
		c->socket_path = strdup(value);
		return c->socket_path ? 1 : -ENOMEM;
	}
	if (strcmp(name, "backend") == 0) {
		if (strcmp(value, "memfd") != 0 && strcmp(value, "kmod") != 0 &&
		    strcmp(value, "dma-heap") != 0 && strcmp(value, "udmabuf") != 0) {
			config_error(ctx, "backend: '%s' is not one of memfd, kmod, dma-heap, udmabuf",
				     value);
			return 0;
		}
		free(c->backend);
		c->backend = strdup(value);
		return c->backend ? 1 : -ENOMEM;
	}
	if (strcmp(name, "backends") == 0 || strcmp(name, "dma-heap-contiguous") == 0 ||
	    strcmp(name, "dma-heap-write-combine") == 0 || strcmp(name, "dma-heap-uncached") == 0)
		return handle_backend_lists(ctx, name, value);
	if (strcmp(name, "capacity") == 0) {
		if (config_parse_size(value, &size) < 0 || size == 0) {
			config_error(ctx, "capacity: '%s' is not a positive size (bytes, K, M, G)",
				     value);
			return 0;
		}
		c->capacity = size;
		return 1;
	}
	if (strcmp(name, "max-clients") == 0) {
		if (config_parse_u32(value, 1, &c->max_clients) < 0) {
			config_error(ctx, "max-clients: '%s' is not a positive number", value);
			return 0;
		}
		return 1;
	}
	if (strcmp(name, "max-buffers-per-client") == 0) {
		if (config_parse_u32(value, 1, &c->max_buffers) < 0) {
			config_error(ctx, "max-buffers-per-client: '%s' is not a positive number",
				     value);
			return 0;
		}
		return 1;
	}
	if (strcmp(name, "socket-mode") == 0) {
		unsigned long m;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (errno || end == value || *end || !isdigit((unsigned char)value[0]) || m > 0777) {
			config_error(ctx, "socket-mode: '%s' is not an octal mode (e.g. 0660)", value);
			return 0;
		}
		c->socket_mode = (mode_t)m;
		return 1;
	}
	config_error(ctx, "unknown key '%s' in [daemon]", name);
	return 0;
}

static int handle_access(struct parse_ctx *ctx, const char *name, const char *value)
{
	struct policy *p = ctx->pol;
	uint32_t *ids;
	size_t n;
	bool star;
	int err;

	if (strcmp(name, "users") == 0) {
		err = parse_id_list(ctx, "users", value, false, &ids, &n, &star);
		if (err < 0)
			return err == -ENOMEM ? err : 0;
		free(p->users);
		p->users = ids;
		p->nusers = n;
		p->allow_any_user = star;
		return 1;
	}
	if (strcmp(name, "groups") == 0) {
		err = parse_id_list(ctx, "groups", value, true, &ids, &n, &star);
		if (err < 0)
			return err == -ENOMEM ? err : 0;
		free(p->groups);
		p->groups = ids;
		p->ngroups = n;
		return 1;
	}
	if (strcmp(name, "admin") == 0) {
		err = parse_id_list(ctx, "admin", value, false, &ids, &n, &star);
		if (err < 0)
			return err == -ENOMEM ? err : 0;
		if (star) {
			free(ids);
			config_error(ctx, "admin: '*' is not allowed; name the administrators");
			return 0;
		}
		free(p->admins);
		p->admins = ids;
		p->nadmins = n;
		return 1;
	}
	config_error(ctx, "unknown key '%s' in [access]", name);
	return 0;
}

/* [limits]: connections and the buffers' share of the daemon's fds. */
static int handle_limits(struct parse_ctx *ctx, const char *name, const char *value)
{
	static const struct {
		const char *key;
		size_t off;
		uint32_t min, max;
	} keys[] = {
		{ "hello-timeout", offsetof(struct config, hello_timeout_sec), 1, 3600 },
		{ "max-connections-per-uid", offsetof(struct config, max_connections_per_uid), 1,
		  UINT32_MAX },
		{ "admin-connections", offsetof(struct config, admin_connections), 0, 1024 },
		{ "max-buffers-per-uid", offsetof(struct config, max_buffers_per_uid), 1,
		  UINT32_MAX },
		{ "expected-uids", offsetof(struct config, expected_uids), 1, 65536 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		uint32_t v;

		if (strcmp(name, keys[i].key) != 0)
			continue;
		if (strcmp(name, "max-buffers-per-uid") == 0 && strcmp(value, "auto") == 0) {
			ctx->cfg->max_buffers_per_uid = 0;
			return 1;
		}
		if (config_parse_u32(value, keys[i].min, &v) < 0 || v > keys[i].max) {
			config_error(ctx, "%s: '%s' is not a number between %u and %u%s", name, value,
				     keys[i].min, keys[i].max,
				     strcmp(name, "max-buffers-per-uid") == 0 ? ", or 'auto'" : "");
			return 0;
		}
		*(uint32_t *)(void *)((char *)ctx->cfg + keys[i].off) = v;
		return 1;
	}
	config_error(ctx, "unknown key '%s' in [limits]", name);
	return 0;
}

static int handle_quota(struct parse_ctx *ctx, const char *name, const char *value)
{
	static const struct {
		const char *prefix;
		size_t off;
	} scopes[] = {
		{ "client-", offsetof(struct policy, client) },
		{ "uid-", offsetof(struct policy, uid_default) },
		{ "gid-", offsetof(struct policy, gid_default) },
	};
	unsigned set = 0;

	for (size_t i = 0; i < ARRAY_SIZE(scopes); i++) {
		size_t len = strlen(scopes[i].prefix);
		struct quota_limits *q;
		int r;

		if (strncmp(name, scopes[i].prefix, len) != 0)
			continue;
		q = (struct quota_limits *)(void *)((char *)ctx->pol + scopes[i].off);
		r = quota_key(ctx, name + len, name, value, q, &set);
		if (r != 0)
			return r > 0 ? 1 : 0;
	}
	config_error(ctx, "unknown key '%s' in [quota]", name);
	return 0;
}

/* [uid:NAME] or [gid:NAME] */
static int handle_rule(struct parse_ctx *ctx, const char *section, const char *name,
		       const char *value)
{
	struct policy *p = ctx->pol;
	bool is_gid = section[0] == 'g';
	struct quota_rule *rule = NULL;
	uint32_t id;
	int r;

	if ((is_gid ? resolve_group(section + 4, &id) : resolve_user(section + 4, &id)) < 0) {
		config_error(ctx, "[%s]: '%s' is not a known %s or a number", section, section + 4,
			     is_gid ? "group" : "user");
		return 0;
	}
	for (size_t i = 0; i < p->nrules; i++)
		if (p->rules[i].is_gid == is_gid && p->rules[i].id == id)
			rule = &p->rules[i];
	if (!rule) {
		struct quota_rule *nr;
		struct rule_parse *np;

		if (p->nrules >= QUOTA_RULES_CAP) {
			config_error(ctx, "more than %u [uid:]/[gid:] sections", QUOTA_RULES_CAP);
			return 0;
		}
		nr = realloc(p->rules, (p->nrules + 1) * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		p->rules = nr;
		np = realloc(ctx->rules, (p->nrules + 1) * sizeof(*np));
		if (!np)
			return -ENOMEM;
		ctx->rules = np;
		rule = &p->rules[p->nrules];
		rule->is_gid = is_gid;
		rule->id = id;
		rule->limits = quota_limits_unlimited();
		ctx->rules[p->nrules] = (struct rule_parse){ .set = 0, .line = ctx->line };
		p->nrules++;
	}
	r = quota_key(ctx, name, name, value, &rule->limits, &ctx->rules[rule - p->rules].set);
	if (r == 0)
		config_error(ctx, "unknown key '%s' in [%s] (bytes, buffers, cached-bytes, "
			     "writecombine-bytes, uncached-bytes)", name, section);
	return r > 0 ? 1 : 0;
}

static int handle_share_section(struct parse_ctx *ctx, const char *name, const char *value)
{
	static const struct {
		const char *key;
		size_t off;
		uint32_t min, max;
	} keys[] = {
		{ "max-tokens-per-buffer", offsetof(struct share_limits, max_tokens_per_buffer), 1,
		  SHARE_TOKENS_CAP },
		{ "max-tokens-per-client", offsetof(struct share_limits, max_tokens_per_client), 1,
		  SHARE_TOKENS_CAP },
		{ "max-targets-per-token", offsetof(struct share_limits, max_targets_per_token), 1,
		  SHARE_TARGETS_CAP },
		{ "max-importers-per-buffer",
		  offsetof(struct share_limits, max_importers_per_buffer), 1, SHARE_IMPORTERS_CAP },
		{ "max-imports-per-client", offsetof(struct share_limits, max_imports_per_client), 1,
		  SHARE_TOKENS_CAP },
		{ "max-expiry", offsetof(struct share_limits, max_expiry_sec), 1, SHARE_EXPIRY_CAP },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		uint32_t v;

		if (strcmp(name, keys[i].key) != 0)
			continue;
		if (config_parse_u32(value, keys[i].min, &v) < 0 || v > keys[i].max) {
			config_error(ctx, "%s: '%s' is not a number between %u and %u", name, value,
				     keys[i].min, keys[i].max);
			return 0;
		}
		*(uint32_t *)(void *)((char *)&ctx->pol->share + keys[i].off) = v;
		return 1;
	}
	config_error(ctx, "unknown key '%s' in [share]", name);
	return 0;
}

/* Refuses a key given twice in the same section. */
static int check_duplicate(struct parse_ctx *ctx, const char *section, const char *name)
{
	char *k, **m;

	if (asprintf(&k, "%s\n%s", section, name) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->nseen; i++) {
		if (strcmp(ctx->seen[i], k) == 0) {
			free(k);
			config_error(ctx, "'%s' is given twice in [%s]", name, section);
			return 0;
		}
	}
	m = realloc(ctx->seen, (ctx->nseen + 1) * sizeof(*m));
	if (!m) {
		free(k);
		return -ENOMEM;
	}
	ctx->seen = m;
	ctx->seen[ctx->nseen++] = k;
	return 1;
}

static int ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	int r;

	if (ctx->long_line && ctx->long_line <= ctx->line)
		return 1; /* the reader already reported it */
	r = check_duplicate(ctx, section, name);
	if (r <= 0)
		return r < 0 ? 0 : 0;
	if (strcmp(section, "daemon") == 0)
		r = handle_daemon(ctx, name, value);
	else if (strcmp(section, "access") == 0)
		r = handle_access(ctx, name, value);
	else if (strcmp(section, "quota") == 0)
		r = handle_quota(ctx, name, value);
	else if (strcmp(section, "share") == 0)
		r = handle_share_section(ctx, name, value);
	else if (strcmp(section, "limits") == 0)
		r = handle_limits(ctx, name, value);
	else if (strcmp(section, "pool") == 0)
		r = config_handle_pool(ctx, name, value);
	else if ((strncmp(section, "uid:", 4) == 0 || strncmp(section, "gid:", 4) == 0) &&
		 section[4])
		r = handle_rule(ctx, section, name, value);
	else if (!section[0]) {
		config_error(ctx, "'%s' is outside any section", name);
		r = 0;
	} else {
		config_error(ctx, "unknown section [%s] (daemon, access, quota, share, limits, "
			     "pool, uid:NAME, gid:NAME)", section);
		r = 0;
	}
	if (r < 0) {
		config_error(ctx, "out of memory");
		r = 0;
	}
	return r;
}

/*
 * Reports the lines inih will refuse (its return value names only the
 * first one): not blank, not a comment, not "[section]", no '=' or ':'.
 */
static void check_syntax(struct parse_ctx *ctx, const char *line)
{
	const char *p = line + strspn(line, " \t\r\n");

	if (!*p || *p == ';' || *p == '#')
		return;
	if (*p == '[') {
		if (!strchr(p, ']'))
			config_error(ctx, "syntax error: '[' without ']'");
		return;
	}
	if (!strpbrk(p, "=:"))
		config_error(ctx, "syntax error (expected [section] or key = value)");
}

/* fgets(3) that counts lines and reports (and skips) overlong ones. */
static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	char *s = fgets(str, num, ctx->f);
	size_t len;

	if (!s)
		return NULL;
	ctx->line++;
	len = strlen(s);
	if (len > 0 && s[len - 1] != '\n' && !feof(ctx->f)) {
		int ch;

		while ((ch = fgetc(ctx->f)) != EOF && ch != '\n')
			;
		config_error(ctx, "line longer than %d bytes", num - 2);
		if (!ctx->long_line)
			ctx->long_line = ctx->line;
		s[0] = '\0'; /* parsed as an empty line */
	}
	check_syntax(ctx, s);
	return s;
}

/* Unset fields of [uid:]/[gid:] sections inherit the [quota] defaults. */
static void inherit_defaults(struct parse_ctx *ctx)
{
	struct policy *p = ctx->pol;

	for (size_t i = 0; i < p->nrules; i++) {
		const struct quota_limits *d = p->rules[i].is_gid ? &p->gid_default : &p->uid_default;
		struct quota_limits *q = &p->rules[i].limits;
		unsigned set = ctx->rules[i].set;

		if (!(set & SET_BYTES))
			q->bytes = d->bytes;
		if (!(set & SET_BUFFERS))
			q->buffers = d->buffers;
		for (int a = 0; a < ATTR_COUNT; a++)
			if (!(set & (SET_ATTR0 << a)))
				q->attr_bytes[a] = d->attr_bytes[a];
	}
}

static void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->socket_mode = 0660;
	c->max_clients = 256;
	c->max_buffers = 1024;
	c->hello_timeout_sec = 5;
	c->max_connections_per_uid = 32;
	c->admin_connections = 4;
	c->max_buffers_per_uid = 0;
	c->expected_uids = 4;
}

int config_load(const char *path, bool must_exist, struct config *ret)
{
	struct parse_ctx ctx = { .path = path };
	struct config c;
	int r, err = 0;

	config_defaults(&c);
	c.policy = policy_new_default();
	if (!c.policy)
		return -ENOMEM;
	ctx.cfg = &c;
	ctx.pol = c.policy;

	ctx.f = fopen(path, "re");
	if (!ctx.f) {
		err = negative_errno();
		if (err == -ENOENT && !must_exist) {
			log_debug("%s does not exist; using the built-in configuration", path);
			*ret = c;
			return 0;
		}
		log_error("%s: %s", path, strerror(-err));
		config_finish(&c);
		return err;
	}
	/* Process-global knobs of Debian's libinih; only the daemon parses INI. */
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	ini_inline_comment_prefixes = (char *)";#";
	r = ini_parse_stream(counting_reader, &ctx, ini_handler_cb, &ctx);
	fclose(ctx.f);
	if (r > 0 && !ctx.errors) {
		/* A line inih refused that check_syntax() did not foresee. */
		ctx.line = (unsigned)r;
		config_error(&ctx, "syntax error (expected [section] or key = value)");
	} else if (r < 0) {
		ctx.errors++;
		log_error("%s: cannot read the file", path);
	}
	config_check_pool(&ctx);
	if (!ctx.errors)
		inherit_defaults(&ctx);
	for (size_t i = 0; i < ctx.nseen; i++)
		free(ctx.seen[i]);
	free(ctx.seen);
	free(ctx.rules);
	if (ctx.errors) {
		log_error("%s: %u error%s; configuration refused", path, ctx.errors,
			  ctx.errors == 1 ? "" : "s");
		config_finish(&c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int config_apply_overrides(struct config *c, const struct config_overrides *o)
{
	if (o->socket_path) {
		char *s = strdup(o->socket_path);

		if (!s)
			return -ENOMEM;
		free(c->socket_path);
		c->socket_path = s;
	}
	if (o->backend) {
		char *s = strdup(o->backend);

		if (!s)
			return -ENOMEM;
		free(c->backend);
		c->backend = s;
	}
	if (o->capacity)
		c->capacity = o->capacity;
	if (o->has_socket_mode)
		c->socket_mode = o->socket_mode;
	if (o->max_clients)
		c->max_clients = o->max_clients;
	if (o->max_buffers)
		c->max_buffers = o->max_buffers;
	if (o->has_pool_budget)
		c->pool_budget = o->pool_budget;
	if (o->has_pool_classes) {
		memcpy(c->pool_classes, o->pool_classes, sizeof(c->pool_classes));
		c->pool_nclasses = o->pool_nclasses;
	}
	return 0;
}

void config_finish(struct config *c)
{
	free(c->socket_path);
	free(c->backend);
	free(c->backends);
	free(c->heaps_contiguous);
	free(c->heaps_writecombine);
	free(c->heaps_uncached);
	c->backends = c->heaps_contiguous = c->heaps_writecombine = c->heaps_uncached = NULL;
	policy_free(c->policy);
	c->socket_path = NULL;
	c->backend = NULL;
	c->policy = NULL;
}
