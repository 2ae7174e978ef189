// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Create or adopt the pinned maps, load and attach the XDP program, and
 * apply a config to the maps as a difference against a mirror of what they
 * hold. The mirror is read back from the maps on adoption, so a restarted
 * sluiced knows exactly what its predecessor left.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sluice.skel.h"
#include "dataplane.h"
#include "config.h"
#include "maglev.h"
#include "log.h"

struct dp_addr {
	struct sl_addr_key key;
	__u32 count;
};

struct dp_state {
	struct sl_dp pub;
	/* mirror of the maps, by id */
	bool svc_used[SL_MAX_SERVICES];
	struct sl_l4addr svc_key[SL_MAX_SERVICES];
	struct sl_svc svc[SL_MAX_SERVICES];
	__u64 svc_sig[SL_MAX_SERVICES];         /* 0: table content unknown */
	__u32 svc_m[SL_MAX_SERVICES];           /* size of the installed table when svc_sig > 1 */
	__u64 svc_in_sig[SL_MAX_SERVICES];      /* what the table was built from; 0: unknown */
	bool bk_used[SL_MAX_BACKENDS];
	struct sl_backend bk[SL_MAX_BACKENDS];
	__u64 filter[2 * SL_FILTER_WORDS];
	struct dp_addr *addrs;                  /* sl_addrs as written, sorted */
	unsigned nr_addrs;
	/* address -> id indexes of the mirror (open addressing, linear
	 * probing; slots hold id + 1, 0 is empty): an apply finds every
	 * service and backend without a map lookup each */
	__u32 svc_idx[2 * SL_MAX_SERVICES];
	__u32 bk_idx[2 * SL_MAX_BACKENDS];
	char ifname[SL_MAX_IFACES][16];         /* configured interfaces, by slot */
	__u32 ifindex[SL_MAX_IFACES];           /* 0: absent now */
	unsigned nr_ifindex;
	int xdp_flags;
	bool set_dirty;         /* the VIP/backend address set changed: rewrite sl_addrs and the filter */
};

#define ST(dp) ((struct dp_state *)(dp))

static bool l4_eq(const struct sl_l4addr *a, const struct sl_l4addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* ---- address indexes ------------------------------------------------------ */

static __u32 l4_hash(const struct sl_l4addr *a)
{
	__u64 h = 0xcbf29ce484222325ull;
	const __u32 *w = a->addr;

	for (int i = 0; i < 4; i++)
		h = (h ^ w[i]) * 0x100000001b3ull;
	h = (h ^ ((__u32)a->port << 16 | (__u32)a->proto << 8 | a->family)) * 0x100000001b3ull;
	return (__u32)(h ^ (h >> 32));
}

static const struct sl_l4addr *idx_key(const struct dp_state *st, bool bk, __u32 id)
{
	return bk ? &st->bk[id].addr : &st->svc_key[id];
}

/* The id at address a, or ~0u. */
static __u32 idx_find(const struct dp_state *st, bool bk, const struct sl_l4addr *a)
{
	const __u32 *t = bk ? st->bk_idx : st->svc_idx;
	__u32 mask = (bk ? 2 * SL_MAX_BACKENDS : 2 * SL_MAX_SERVICES) - 1, i;

	for (i = l4_hash(a) & mask; t[i]; i = (i + 1) & mask)
		if (!memcmp(idx_key(st, bk, t[i] - 1), a, sizeof(*a)))
			return t[i] - 1;
	return ~0u;
}

static void idx_add(struct dp_state *st, bool bk, __u32 id)
{
	__u32 *t = bk ? st->bk_idx : st->svc_idx;
	__u32 mask = (bk ? 2 * SL_MAX_BACKENDS : 2 * SL_MAX_SERVICES) - 1, i;
	const struct sl_l4addr *a = idx_key(st, bk, id);

	for (i = l4_hash(a) & mask; t[i]; i = (i + 1) & mask)
		if (t[i] == id + 1 || !memcmp(idx_key(st, bk, t[i] - 1), a, sizeof(*a))) {
			t[i] = id + 1;
			return;
		}
	t[i] = id + 1;
}

/* After ids were freed (rare: a reap, a removed service): build again. */
static void idx_rebuild(struct dp_state *st, bool bk)
{
	__u32 id;

	if (bk) {
		memset(st->bk_idx, 0, sizeof(st->bk_idx));
		for (id = 1; id < SL_MAX_BACKENDS; id++)
			if (st->bk_used[id])
				idx_add(st, true, id);
	} else {
		memset(st->svc_idx, 0, sizeof(st->svc_idx));
		for (id = 0; id < SL_MAX_SERVICES; id++)
			if (st->svc_used[id])
				idx_add(st, false, id);
	}
}

static int errf(char *err, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return rc < 0 ? rc : -rc;
}

static int map_fd(const struct sl_dp *dp, struct bpf_map *m)
{
	(void)dp;
	return bpf_map__fd(m);
}

#define FD(dp, name) map_fd(dp, (dp)->skel->maps.name)

int sl_dp_prog_fd(const struct sl_dp *dp)
{
	return bpf_program__fd(dp->skel->progs.sluice_xdp);
}

int sl_dp_ensure_bpffs(const char *pin_root, char *err, size_t errlen)
{
	const char *base = "/sys/fs/bpf";
	struct statfs st;

	if (strncmp(pin_root, base, strlen(base)))
		return 0;       /* elsewhere: the operator's mount */
	if (statfs(base, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	mkdir(base, 0700);
	if (mount("bpf", base, "bpf", 0, "mode=0700"))
		return errf(err, errlen, errno, "cannot mount bpffs at %s: %s", base, strerror(errno));
	sl_log(LOG_INFO, "mounted bpffs at %s", base);
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[256];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static void pin_path(char *buf, size_t len, const char *root, const char *name)
{
	snprintf(buf, len, "%s/%s", root, name);
}

/* ---- mirror ----------------------------------------------------------- */

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct dp_addr *)a)->key, &((const struct dp_addr *)b)->key,
		      sizeof(struct sl_addr_key));
}

static int load_addrs(struct dp_state *st)
{
	struct sl_dp *dp = &st->pub;
	struct sl_addr_key key, next;
	void *prev = NULL;
	unsigned cap = 0;
	__u32 count;

	while (!bpf_map_get_next_key(FD(dp, sl_addrs), prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(FD(dp, sl_addrs), &key, &count))
			continue;
		if (st->nr_addrs == cap) {
			struct dp_addr *n = realloc(st->addrs, (cap = cap ? 2 * cap : 256) * sizeof(*n));

			if (!n)
				return -ENOMEM;
			st->addrs = n;
		}
		st->addrs[st->nr_addrs].key = key;
		st->addrs[st->nr_addrs++].count = count;
	}
	if (st->nr_addrs)
		qsort(st->addrs, st->nr_addrs, sizeof(*st->addrs), addr_cmp);
	return 0;
}

static int load_mirror(struct dp_state *st)
{
	struct sl_dp *dp = &st->pub;
	struct sl_l4addr key, next;
	struct sl_svc sv;
	struct sl_rev rv;
	void *prev = NULL;
	__u32 w;

	while (!bpf_map_get_next_key(FD(dp, sl_svc), prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(FD(dp, sl_svc), &key, &sv) || sv.id >= SL_MAX_SERVICES)
			continue;
		st->svc_used[sv.id] = true;
		st->svc_key[sv.id] = key;
		st->svc[sv.id] = sv;
	}
	prev = NULL;
	while (!bpf_map_get_next_key(FD(dp, sl_rev), prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(FD(dp, sl_rev), &key, &rv) || !rv.bk_id ||
		    rv.bk_id >= SL_MAX_BACKENDS)
			continue;
		if (bpf_map_lookup_elem(FD(dp, sl_backend), &rv.bk_id, &st->bk[rv.bk_id]))
			continue;
		st->bk_used[rv.bk_id] = true;
	}
	for (w = 0; w < 2 * SL_FILTER_WORDS; w++)
		bpf_map_lookup_elem(FD(dp, sl_addr_filter), &w, &st->filter[w]);
	idx_rebuild(st, false);
	idx_rebuild(st, true);
	return load_addrs(st);
}

/* ---- open / close ----------------------------------------------------- */

static size_t live_len(size_t vsz, size_t n)
{
	size_t pg = sysconf(_SC_PAGESIZE);

	return (vsz * n + pg - 1) / pg * pg;
}

static void unmap_live(struct sl_dp *dp)
{
	if (dp->bk_live && dp->bk_live != MAP_FAILED)
		munmap(dp->bk_live, live_len(sizeof(struct sl_bk_live), SL_MAX_BACKENDS));
	if (dp->svc_live && dp->svc_live != MAP_FAILED)
		munmap(dp->svc_live, live_len(sizeof(struct sl_svc_live), SL_MAX_SERVICES));
	dp->bk_live = NULL;
	dp->svc_live = NULL;
}

int sl_dp_map_fd(const struct sl_dp *dp, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(dp->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

int sl_dp_open(struct sl_dp **out, const struct sl_dp_opts *o, char *err, size_t errlen)
{
	struct dp_state *st;
	struct sl_dp *dp;
	struct bpf_map *m;
	char path[320];
	__u32 zero = 0;
	int rc, fd;

	st = calloc(1, sizeof(*st));
	if (!st)
		return errf(err, errlen, ENOMEM, "out of memory");
	dp = &st->pub;
	dp->nr_cpus = libbpf_num_possible_cpus();
	dp->pkt_fd = -1;
	/* the first apply rewrites the address set and resolves next hops
	 * whatever it finds: adopted maps may be from a sluiced that died
	 * half way */
	st->set_dirty = true;
	dp->nh_dirty = true;
	dp->skel = sluice__open();
	if (!dp->skel) {
		rc = errf(err, errlen, errno, "cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	bpf_map__set_max_entries(dp->skel->maps.sl_conn,
				 o->conn_table_size ? o->conn_table_size : SL_CONN_DEFAULT);
	bpf_map__set_max_entries(dp->skel->maps.sl_pending,
				 o->pending_table_size ? o->pending_table_size : SL_PENDING_DEFAULT);

	if (o->pin_root) {
		struct sl_meta meta;

		snprintf(dp->pin_root, sizeof(dp->pin_root), "%s", o->pin_root);
		dp->pinned = true;
		rc = sl_dp_ensure_bpffs(dp->pin_root, err, errlen);
		if (rc)
			goto fail;
		rc = mkdir_p(dp->pin_root);
		if (rc) {
			errf(err, errlen, rc, "cannot create pin root %s: %s", dp->pin_root, strerror(-rc));
			goto fail;
		}
		pin_path(path, sizeof(path), dp->pin_root, "sl_meta");
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			rc = bpf_map_lookup_elem(fd, &zero, &meta);
			close(fd);
			if (rc || meta.layout_version != SL_LAYOUT_VERSION) {
				rc = errf(err, errlen, EEXIST,
					  "pinned maps in %s have layout version %u, this sluiced uses %u: "
					  "tear them down with the sluiced that made them (--detach), or remove the pins",
					  dp->pin_root, rc ? 0 : meta.layout_version, SL_LAYOUT_VERSION);
				goto fail;
			}
			dp->adopted = true;
		}
		/* Reuse every pinned map by hand: libbpf's own pin reuse
		 * refuses a pinned devmap (DESIGN.md, BPF maps). */
		bpf_object__for_each_map(m, dp->skel->obj) {
			if (!bpf_map__autocreate(m))
				continue;
			pin_path(path, sizeof(path), dp->pin_root, bpf_map__name(m));
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			rc = bpf_map__reuse_fd(m, fd);
			close(fd);
			if (rc) {
				errf(err, errlen, rc, "cannot reuse pinned map %s: %s", path, strerror(-rc));
				goto fail;
			}
		}
	}

	rc = sluice__load(dp->skel);
	if (rc) {
		errf(err, errlen, rc, "cannot load the XDP program: %s", strerror(-rc));
		goto fail;
	}
	if (dp->pinned) {
		bpf_object__for_each_map(m, dp->skel->obj) {
			struct stat sb;

			pin_path(path, sizeof(path), dp->pin_root, bpf_map__name(m));
			if (stat(path, &sb) == 0)
				continue;
			rc = bpf_map__pin(m, path);
			if (rc) {
				errf(err, errlen, rc, "cannot pin %s: %s", path, strerror(-rc));
				goto fail;
			}
		}
	}
	dp->bk_live = mmap(NULL, live_len(sizeof(struct sl_bk_live), SL_MAX_BACKENDS),
			   PROT_READ | PROT_WRITE, MAP_SHARED, FD(dp, sl_bk_live), 0);
	dp->svc_live = mmap(NULL, live_len(sizeof(struct sl_svc_live), SL_MAX_SERVICES),
			    PROT_READ | PROT_WRITE, MAP_SHARED, FD(dp, sl_svc_live), 0);
	if (dp->bk_live == MAP_FAILED || dp->svc_live == MAP_FAILED) {
		rc = errf(err, errlen, errno, "cannot map the live counters: %s", strerror(errno));
		goto fail;
	}
	if (dp->adopted) {
		__u32 want = o->conn_table_size ? o->conn_table_size : SL_CONN_DEFAULT;

		if (bpf_map__max_entries(dp->skel->maps.sl_conn) != want)
			sl_log(LOG_WARNING, "pinned connection table holds %u entries, config asks %u: "
			       "kept (a new size needs --detach and a fresh start)",
			       bpf_map__max_entries(dp->skel->maps.sl_conn), want);
		load_mirror(st);
	} else {
		struct sl_meta meta = { .layout_version = SL_LAYOUT_VERSION };

		rc = bpf_map_update_elem(FD(dp, sl_meta), &zero, &meta, BPF_ANY);
		if (rc) {
			errf(err, errlen, rc, "cannot write sl_meta: %s", strerror(-rc));
			goto fail;
		}
	}
	*out = dp;
	return 0;
fail:
	unmap_live(dp);
	sluice__destroy(dp->skel);
	free(st);
	return rc ? rc : -EINVAL;
}

void sl_dp_close(struct sl_dp *dp)
{
	if (!dp)
		return;
	unmap_live(dp);
	if (dp->pkt_fd >= 0)
		close(dp->pkt_fd);
	sluice__destroy(dp->skel);
	free(ST(dp)->addrs);
	free(ST(dp));
}

/* ---- apply ------------------------------------------------------------ */

__u32 sl_dp_backend_id(const struct sl_dp *dp, const struct sl_l4addr *a)
{
	__u32 id = idx_find(ST(dp), true, a);

	return id == ~0u ? 0 : id;
}

static int zero_percpu(struct sl_dp *dp, int fd, __u32 key, size_t vsz)
{
	size_t len = ((vsz + 7) & ~7ul) * dp->nr_cpus;
	void *z = calloc(1, len);
	int rc;

	if (!z)
		return -ENOMEM;
	rc = bpf_map_update_elem(fd, &key, z, BPF_ANY);
	free(z);
	return rc;
}

static int write_backend(struct dp_state *st, __u32 id, const struct sl_backend *v)
{
	struct sl_dp *dp = &st->pub;
	int rc;

	if (st->bk_used[id] && !memcmp(&st->bk[id], v, sizeof(*v)))
		return 0;
	rc = bpf_map_update_elem(FD(dp, sl_backend), &id, v, BPF_ANY);
	if (rc)
		return rc;
	if (!st->bk_used[id] || !l4_eq(&st->bk[id].addr, &v->addr)) {
		st->bk[id] = *v;
		st->bk_used[id] = true;
		idx_add(st, true, id);
		st->set_dirty = true;
		dp->nh_dirty = true;
		return 0;
	}
	if ((st->bk[id].flags ^ v->flags) & SL_BK_F_GONE)
		st->set_dirty = true;
	st->bk[id] = *v;
	return 0;
}

static __u64 fnv64(__u64 h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/* A new Maglev table for a service when its content would change: created
 * and filled, its fd in *out_fd for install_tables(); -1 when the installed
 * one already says this. */
static int write_table(struct dp_state *st, __u32 svc_id, const __u32 *table, __u32 M,
		       int *out_fd, __u64 *out_sig, char *err, size_t errlen)
{
	struct sl_dp *dp = &st->pub;
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_INNER_MAP);
	__u64 sig = fnv64(fnv64(0xcbf29ce484222325ull, &M, sizeof(M)), table, (size_t)M * 4);
	__u32 *vals, *keys, n = M + 1, i, count;
	char name[16];
	int fd = -1, rc;

	*out_fd = -1;
	*out_sig = sig;
	if (st->svc_sig[svc_id] == sig)
		return 0;
	vals = malloc(n * 4);
	keys = malloc(n * 4);
	if (!vals || !keys) {
		free(vals);
		free(keys);
		return errf(err, errlen, ENOMEM, "out of memory");
	}
	vals[0] = M;
	memcpy(vals + 1, table, (size_t)M * 4);
	for (i = 0; i < n; i++)
		keys[i] = i;

	/* An adopted table may already say exactly this. */
	if (st->svc_sig[svc_id] == 0) {
		__u32 inner_id;

		if (!bpf_map_lookup_elem(FD(dp, sl_maglev), &svc_id, &inner_id)) {
			int ifd = bpf_map_get_fd_by_id(inner_id);
			__u32 *cur = calloc(n, 4);
			bool same = false;

			if (ifd >= 0 && cur) {
				struct bpf_map_info info = {};
				__u32 ilen = sizeof(info);

				if (!bpf_obj_get_info_by_fd(ifd, &info, &ilen) && info.max_entries == n) {
					same = true;
					for (i = 0; i < n && same; i++)
						if (bpf_map_lookup_elem(ifd, &i, &cur[i]) || cur[i] != vals[i])
							same = false;
				}
			}
			free(cur);
			if (ifd >= 0)
				close(ifd);
			if (same) {
				st->svc_sig[svc_id] = sig;
				st->svc_m[svc_id] = M;
				free(vals);
				free(keys);
				return 0;
			}
		}
	}

	/* A table of the same size is rewritten in place: replacing it in
	 * sl_maglev waits for an RCU grace period (milliseconds). A lookup
	 * meanwhile sees old or new slots, each naming a backend the service
	 * had a moment ago: what the old table alone would have said. */
	if (st->svc_sig[svc_id] > 1 && st->svc_m[svc_id] == M) {
		__u32 inner_id;
		int ifd;

		if (!bpf_map_lookup_elem(FD(dp, sl_maglev), &svc_id, &inner_id) &&
		    (ifd = bpf_map_get_fd_by_id(inner_id)) >= 0) {
			count = n;
			rc = bpf_map_update_batch(ifd, keys, vals, &count, NULL);
			close(ifd);
			if (!rc) {
				st->svc_sig[svc_id] = sig;
				goto out;
			}
		}
		rc = 0;         /* fall back to a new table */
	}

	snprintf(name, sizeof(name), "sl_mg_%u", svc_id);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4, 4, n, &mo);
	if (fd < 0) {
		rc = errf(err, errlen, errno, "cannot create a Maglev table of %u slots: %s", M, strerror(errno));
		goto out;
	}
	count = n;
	rc = bpf_map_update_batch(fd, keys, vals, &count, NULL);
	if (rc) {
		errf(err, errlen, rc, "cannot fill a Maglev table: %s", strerror(-rc));
		goto out;
	}
	*out_fd = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(vals);
	free(keys);
	return rc;
}

/* Tables waiting to be installed: one batch update of sl_maglev installs
 * them all. A single update of a map-in-map waits for an RCU grace period
 * (milliseconds) each time; a batch waits once. */
#define TBL_BATCH 256

struct tbl_batch {
	__u32 ids[TBL_BATCH];
	int fds[TBL_BATCH];
	__u64 sigs[TBL_BATCH];
	__u32 ms[TBL_BATCH];
	unsigned n;
};

static int install_tables(struct dp_state *st, struct tbl_batch *tb, char *err, size_t errlen)
{
	struct sl_dp *dp = &st->pub;
	__u32 count = tb->n, i;
	int rc = 0;

	if (tb->n) {
		rc = bpf_map_update_batch(FD(dp, sl_maglev), tb->ids, tb->fds, &count, NULL);
		if (rc == -EINVAL || rc == -524 /* ENOTSUPP */ || rc == -EOPNOTSUPP) {
			for (i = 0, rc = 0; i < tb->n && !rc; i++)  /* kernels without batch ops */
				rc = bpf_map_update_elem(FD(dp, sl_maglev), &tb->ids[i], &tb->fds[i], BPF_ANY);
			count = i;
		}
		if (rc)
			errf(err, errlen, rc, "cannot install Maglev tables: %s", strerror(-rc));
	}
	for (i = 0; i < tb->n; i++) {
		if (!rc) {
			st->svc_sig[tb->ids[i]] = tb->sigs[i];
			st->svc_m[tb->ids[i]] = tb->ms[i];
		}
		close(tb->fds[i]);
	}
	tb->n = 0;
	return rc;
}

static void filter_set(__u64 *f, enum sl_addr_kind kind, const __be32 *addr)
{
	__u32 bit = sl_addr_bit(addr);

	f[kind * SL_FILTER_WORDS + (bit >> 6)] |= 1ull << (bit & 63);
}

static int write_filter(struct dp_state *st)
{
	struct sl_dp *dp = &st->pub;
	static __u64 f[2 * SL_FILTER_WORDS];
	__u32 i;
	int rc;

	memset(f, 0, sizeof(f));
	for (i = 0; i < SL_MAX_SERVICES; i++)
		if (st->svc_used[i])
			filter_set(f, SL_ADDR_VIP, st->svc_key[i].addr);
	for (i = 1; i < SL_MAX_BACKENDS; i++)
		if (st->bk_used[i])
			filter_set(f, SL_ADDR_BACKEND, st->bk[i].addr.addr);
	for (i = 0; i < 2 * SL_FILTER_WORDS; i++) {
		if (f[i] == st->filter[i])
			continue;
		/* Words change whole: no bit still needed is ever missing. */
		rc = bpf_map_update_elem(FD(dp, sl_addr_filter), &i, &f[i], BPF_ANY);
		if (rc)
			return rc;
		st->filter[i] = f[i];
	}
	return 0;
}

static void addr_key(struct sl_addr_key *k, const struct sl_l4addr *a, enum sl_addr_kind kind)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, a->addr, sizeof(k->addr));
	k->family = a->family;
	k->kind = kind;
}

/* sl_addrs: VIP addresses of services and addresses of backends (draining
 * ones too), each with how many use it; written as a difference. */
static int write_addrs(struct dp_state *st)
{
	struct sl_dp *dp = &st->pub;
	struct dp_addr *want;
	unsigned n = 0, u = 0, i, j;
	int rc = 0;

	want = calloc(SL_MAX_SERVICES + SL_MAX_BACKENDS, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (i = 0; i < SL_MAX_SERVICES; i++)
		if (st->svc_used[i])
			addr_key(&want[n++].key, &st->svc_key[i], SL_ADDR_VIP);
	for (i = 1; i < SL_MAX_BACKENDS; i++)
		if (st->bk_used[i])
			addr_key(&want[n++].key, &st->bk[i].addr, SL_ADDR_BACKEND);
	qsort(want, n, sizeof(*want), addr_cmp);
	for (i = 0; i < n; i++) {               /* unique, counted */
		if (u && !addr_cmp(&want[u - 1], &want[i])) {
			want[u - 1].count++;
			continue;
		}
		want[u] = want[i];
		want[u++].count = 1;
	}
	for (i = 0, j = 0; i < u || j < st->nr_addrs;) {
		int c = i == u ? 1 : j == st->nr_addrs ? -1 : addr_cmp(&want[i], &st->addrs[j]);

		if (c < 0 || (c == 0 && want[i].count != st->addrs[j].count))
			rc = bpf_map_update_elem(FD(dp, sl_addrs), &want[i].key, &want[i].count, BPF_ANY);
		else if (c > 0)
			bpf_map_delete_elem(FD(dp, sl_addrs), &st->addrs[j].key);
		if (rc)
			break;
		i += c <= 0;
		j += c >= 0;
	}
	if (rc) {
		free(want);
		return rc;
	}
	free(st->addrs);
	st->addrs = want;
	st->nr_addrs = u;
	return 0;
}

static __u32 find_svc(const struct dp_state *st, const struct sl_l4addr *vip)
{
	__u32 id = idx_find(st, false, vip);

	return id < SL_MAX_SERVICES && st->svc_used[id] ? id : SL_MAX_SERVICES;
}

static __u32 find_bk(const struct sl_dp *dp, const struct sl_l4addr *a)
{
	return sl_dp_backend_id(dp, a);
}

static __u32 free_id(const bool *used, const bool *taken, __u32 from, __u32 max)
{
	__u32 i;

	for (i = from; i < max; i++)
		if (!used[i] && !taken[i])
			return i;
	return max;
}

int sl_dp_apply(struct sl_dp *dp, const struct sl_config *cfg, char *err, size_t errlen)
{
	struct dp_state *st = ST(dp);
	bool *svc_keep = calloc(SL_MAX_SERVICES, sizeof(bool));
	bool *bk_keep = calloc(SL_MAX_BACKENDS, sizeof(bool));
	__u32 *svc_ids = calloc(cfg->nr_services ? cfg->nr_services : 1, sizeof(__u32));
	__u32 *table = malloc(SL_MAGLEV_MAX * sizeof(__u32));
	struct sl_maglev_backend *mb = NULL;
	struct tbl_batch *tb = calloc(1, sizeof(*tb));
	__u32 *bk_ids = NULL, nbk = 0, k, svc_hint = 0, bk_hint = 1;
	struct timespec ts;
	struct sl_meta meta;
	__u32 s, b, id, zero = 0;
	bool svc_gone = false;
	int rc = 0;

	for (s = 0; s < cfg->nr_services; s++)
		nbk += cfg->services[s].nr_backends;
	bk_ids = calloc(nbk ? nbk : 1, sizeof(__u32));
	if (!svc_keep || !bk_keep || !svc_ids || !table || !tb || !bk_ids) {
		rc = errf(err, errlen, ENOMEM, "out of memory");
		goto out;
	}
	/* The maps are about to say something no config says: a sluiced that
	 * dies before the end must not let its successor adopt them as they
	 * are (a hash of 0 matches no config). */
	if (!bpf_map_lookup_elem(FD(dp, sl_meta), &zero, &meta) && meta.config_hash != cfg->hash &&
	    meta.config_hash) {
		meta.config_hash = 0;
		bpf_map_update_elem(FD(dp, sl_meta), &zero, &meta, BPF_ANY);
	}

	/* 1. ids: kept for what stays, the lowest free for what is new */
	for (s = 0; s < cfg->nr_services; s++) {
		const struct sl_cfg_service *cs = &cfg->services[s];

		id = find_svc(st, &cs->vip);
		if (id == SL_MAX_SERVICES) {
			/* ids below the hint are all used or taken already */
			id = free_id(st->svc_used, svc_keep, svc_hint, SL_MAX_SERVICES);
			svc_hint = id + 1;
		}
		if (id == SL_MAX_SERVICES) {
			rc = errf(err, errlen, ENOSPC, "no free service id");
			goto out;
		}
		svc_keep[id] = true;
		svc_ids[s] = id;
	}

	/* 2. backends and their reverse entries */
	for (s = 0, k = 0; s < cfg->nr_services; s++) {
		const struct sl_cfg_service *cs = &cfg->services[s];

		for (b = 0; b < cs->nr_backends; b++) {
			const struct sl_cfg_backend *cb = &cs->backends[b];
			struct sl_backend v = { 0 };
			struct sl_rev rv = { 0 };
			bool fresh, rev_ok;

			id = find_bk(dp, &cb->addr);
			fresh = !id || !st->bk_used[id];
			if (!id) {
				id = free_id(st->bk_used, bk_keep, bk_hint, SL_MAX_BACKENDS);
				bk_hint = id + 1;
			}
			if (id >= SL_MAX_BACKENDS) {
				rc = errf(err, errlen, ENOSPC, "no free backend id");
				goto out;
			}
			bk_keep[id] = true;
			bk_ids[k++] = id;
			/* found by its address: the reverse entry is right when
			 * it names the same service at the same VIP */
			rev_ok = !fresh && st->bk[id].svc_id == svc_ids[s] && st->svc_used[svc_ids[s]] &&
				 l4_eq(&st->svc_key[svc_ids[s]], &cs->vip);
			if (!fresh)
				v = st->bk[id];         /* keeps next hop and breaker */
			v.addr = cb->addr;
			v.svc_id = svc_ids[s];
			v.flags = (v.flags & (SL_BK_F_NH | SL_BK_F_RESET)) | SL_BK_F_ACTIVE;
			v.weight = cb->weight;
			v.max_conns = cb->max_conns;
			v.max_pending = cb->max_pending;
			if (fresh) {
				/* a new id: no flow can hold its units */
				zero_percpu(dp, FD(dp, sl_bk_stats), id, sizeof(struct sl_bk_stats));
				__atomic_store_n(&dp->bk_live[id].active, 0, __ATOMIC_RELAXED);
				__atomic_store_n(&dp->bk_live[id].pending, 0, __ATOMIC_RELAXED);
				__atomic_store_n(&dp->bk_live[id].trial_tokens, 0, __ATOMIC_RELAXED);
			}
			rc = write_backend(st, id, &v);
			if (rc) {
				errf(err, errlen, rc, "cannot write backend %u: %s", id, strerror(-rc));
				goto out;
			}
			if (rev_ok)
				continue;
			rv.bk_id = id;
			rv.svc_id = svc_ids[s];
			rv.vip = cs->vip;
			rc = bpf_map_update_elem(FD(dp, sl_rev), &cb->addr, &rv, BPF_ANY);
			if (rc) {
				errf(err, errlen, rc, "cannot write reverse entry: %s", strerror(-rc));
				goto out;
			}
		}
	}

	/* 3. services: tables first, so a service never points at a missing
	 * one; a table is built only when what it is built from changed */
	for (s = 0, k = 0; s < cfg->nr_services; s++) {
		const struct sl_cfg_service *cs = &cfg->services[s];
		__u32 M = cs->maglev_size;
		__u64 in_sig = fnv64(0xcbf29ce484222325ull, &M, sizeof(M));

		id = svc_ids[s];
		mb = realloc(mb, (cs->nr_backends ? cs->nr_backends : 1) * sizeof(*mb));
		if (!mb) {
			rc = errf(err, errlen, ENOMEM, "out of memory");
			goto out;
		}
		for (b = 0; b < cs->nr_backends; b++, k++) {
			mb[b].addr = cs->backends[b].addr;
			mb[b].weight = cs->backends[b].weight;
			mb[b].id = bk_ids[k];
			in_sig = fnv64(in_sig, &mb[b], sizeof(mb[b]));
		}
		if (M) {
			int fd;
			__u64 sig;

			if (st->svc_sig[id] > 1 && st->svc_in_sig[id] == in_sig)
				continue;       /* same inputs, same table */
			rc = sl_maglev_build(mb, cs->nr_backends, M, table);
			if (rc) {
				errf(err, errlen, rc, "%s: cannot build the Maglev table of service %s",
				     cfg->file, cs->name);
				goto out;
			}
			rc = write_table(st, id, table, M, &fd, &sig, err, errlen);
			if (rc)
				goto out;
			st->svc_in_sig[id] = in_sig;
			if (fd < 0)
				continue;
			tb->ids[tb->n] = id;
			tb->fds[tb->n] = fd;
			tb->ms[tb->n] = M;
			tb->sigs[tb->n++] = sig;
			if (tb->n == TBL_BATCH && (rc = install_tables(st, tb, err, errlen)))
				goto out;
		} else if (st->svc_sig[id] != 1) {
			bpf_map_delete_elem(FD(dp, sl_maglev), &id);
			st->svc_sig[id] = 1;    /* "no table" */
			st->svc_in_sig[id] = 0;
		}
	}
	rc = install_tables(st, tb, err, errlen);
	if (rc)
		goto out;
	for (s = 0; s < cfg->nr_services; s++) {
		const struct sl_cfg_service *cs = &cfg->services[s];
		struct sl_svc v = { 0 };

		id = svc_ids[s];
		v.id = id;
		v.maglev_size = cs->maglev_size;
		v.max_conns = cs->max_conns;
		v.connect_timeout_ms = cs->connect_timeout_ms;
		v.idle_timeout_s = cs->idle_timeout_s;
		v.mode = cs->mode;
		v.sched = cs->sched;
		v.reject = cs->reject;
		v.on_trip = cs->on_trip;
		v.max_ejection_pct = cs->max_ejection_pct;
		v.panic = cs->panic;
		v.redispatch_max = cs->redispatch_max;
		v.slow_call_ms = cs->breaker.slow_call_ms;
		if (!st->svc_used[id] || memcmp(&st->svc[id], &v, sizeof(v))) {
			if (!st->svc_used[id]) {
				struct sl_svc_live live = { 0 };

				zero_percpu(dp, FD(dp, sl_svc_stats), id, sizeof(struct sl_svc_stats));
				bpf_map_update_elem(FD(dp, sl_svc_live), &id, &live, BPF_ANY);
			}
			rc = bpf_map_update_elem(FD(dp, sl_svc), &cs->vip, &v, BPF_ANY);
			if (rc) {
				errf(err, errlen, rc, "cannot write service %s: %s", cs->name, strerror(-rc));
				goto out;
			}
			if (!st->svc_used[id]) {
				st->svc_key[id] = cs->vip;
				st->svc_used[id] = true;
				idx_add(st, false, id);
				st->set_dirty = true;
			}
			st->svc[id] = v;
			st->svc_key[id] = cs->vip;
		}
	}

	/* 4. what left the config: services go, backends drain */
	for (id = 0; id < SL_MAX_SERVICES; id++) {
		if (!st->svc_used[id] || svc_keep[id])
			continue;
		bpf_map_delete_elem(FD(dp, sl_svc), &st->svc_key[id]);
		bpf_map_delete_elem(FD(dp, sl_maglev), &id);
		st->svc_used[id] = false;
		st->svc_sig[id] = 0;
		st->svc_in_sig[id] = 0;
		st->set_dirty = svc_gone = true;
		sl_log(LOG_INFO, "service %u removed", id);
	}
	if (svc_gone)
		idx_rebuild(st, false);
	for (id = 1; id < SL_MAX_BACKENDS; id++) {
		struct sl_backend v;

		if (!st->bk_used[id] || bk_keep[id] || (st->bk[id].flags & SL_BK_F_GONE))
			continue;
		v = st->bk[id];
		v.flags |= SL_BK_F_GONE;
		rc = write_backend(st, id, &v);
		if (rc) {
			errf(err, errlen, rc, "cannot retire backend %u: %s", id, strerror(-rc));
			goto out;
		}
	}
	/* The address set and its filter change only with membership: a
	 * reweighting reload skips the sort and the rewrite. */
	if (st->set_dirty) {
		rc = write_addrs(st);
		if (!rc)
			rc = write_filter(st);
		if (rc) {
			errf(err, errlen, rc, "cannot write the VIP set: %s", strerror(-rc));
			goto out;
		}
		st->set_dirty = false;
	}

	if (!bpf_map_lookup_elem(FD(dp, sl_meta), &zero, &meta)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		meta.config_hash = cfg->hash;
		meta.applied_ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
		bpf_map_update_elem(FD(dp, sl_meta), &zero, &meta, BPF_ANY);
	}
out:
	if (tb) {
		while (tb->n)
			close(tb->fds[--tb->n]);
		free(tb);
	}
	free(bk_ids);
	free(svc_keep);
	free(bk_keep);
	free(svc_ids);
	free(table);
	free(mb);
	return rc;
}

int sl_dp_reap_gone(struct sl_dp *dp)
{
	struct dp_state *st = ST(dp);
	struct sl_flow_key key, next;
	struct sl_conn c;
	void *prev = NULL;
	bool *ref, any = false;
	__u32 id;
	int freed = 0;

	for (id = 1; id < SL_MAX_BACKENDS && !any; id++)
		any = st->bk_used[id] && (st->bk[id].flags & SL_BK_F_GONE);
	if (!any)
		return 0;
	ref = calloc(SL_MAX_BACKENDS, sizeof(bool));
	if (!ref)
		return -ENOMEM;
	while (!bpf_map_get_next_key(FD(dp, sl_conn), prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(FD(dp, sl_conn), &key, &c) && c.bk_id < SL_MAX_BACKENDS)
			ref[c.bk_id] = true;
	}
	for (id = 1; id < SL_MAX_BACKENDS; id++) {
		struct sl_backend z = { 0 };

		if (!st->bk_used[id] || !(st->bk[id].flags & SL_BK_F_GONE) || ref[id])
			continue;
		bpf_map_delete_elem(FD(dp, sl_rev), &st->bk[id].addr);
		bpf_map_update_elem(FD(dp, sl_backend), &id, &z, BPF_ANY);
		st->bk_used[id] = false;
		memset(&st->bk[id], 0, sizeof(st->bk[id]));
		freed++;
	}
	free(ref);
	if (freed) {
		idx_rebuild(st, true);
		write_addrs(st);
		write_filter(st);
	}
	return freed;
}

int sl_dp_set_nexthop(struct sl_dp *dp, __u32 bk_id, __u32 ifindex,
		      const __u8 *dmac, const __u8 *smac)
{
	struct dp_state *st = ST(dp);
	struct sl_backend v;

	if (bk_id == 0 || bk_id >= SL_MAX_BACKENDS || !st->bk_used[bk_id])
		return -ENOENT;
	v = st->bk[bk_id];
	if (ifindex) {
		v.flags |= SL_BK_F_NH;
		v.nh_ifindex = ifindex;
		memcpy(v.nh_dmac, dmac, 6);
		memcpy(v.nh_smac, smac, 6);
	} else {
		v.flags &= ~SL_BK_F_NH;
		v.nh_ifindex = 0;
		memset(v.nh_dmac, 0, 6);
		memset(v.nh_smac, 0, 6);
	}
	return write_backend(st, bk_id, &v);
}

int sl_dp_set_gate(struct sl_dp *dp, __u32 bk_id, __u8 breaker, bool reset, __u8 mode,
		   __u64 drain_until_ns)
{
	struct dp_state *st = ST(dp);
	struct sl_backend v;

	if (bk_id == 0 || bk_id >= SL_MAX_BACKENDS || !st->bk_used[bk_id])
		return -ENOENT;
	v = st->bk[bk_id];
	v.breaker = breaker;
	v.mode = mode;
	v.drain_until[0] = (__u32)drain_until_ns;
	v.drain_until[1] = (__u32)(drain_until_ns >> 32);
	v.flags = reset ? v.flags | SL_BK_F_RESET : v.flags & ~SL_BK_F_RESET;
	return write_backend(st, bk_id, &v);
}

int sl_dp_tick(struct sl_dp *dp)
{
	struct timespec ts;
	struct sl_meta meta;
	__u32 zero = 0;
	int rc;

	rc = bpf_map_lookup_elem(FD(dp, sl_meta), &zero, &meta);
	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	meta.now_ns = ts.tv_sec * 1000000000ull + ts.tv_nsec;
	return bpf_map_update_elem(FD(dp, sl_meta), &zero, &meta, BPF_ANY);
}

int sl_dp_bump_nh_gen(struct sl_dp *dp)
{
	struct sl_meta meta;
	__u32 zero = 0;
	int rc;

	rc = bpf_map_lookup_elem(FD(dp, sl_meta), &zero, &meta);
	if (rc)
		return rc;
	meta.nh_gen++;
	return bpf_map_update_elem(FD(dp, sl_meta), &zero, &meta, BPF_ANY);
}

int sl_dp_service_id(const struct sl_dp *dp, const struct sl_l4addr *vip)
{
	__u32 id = find_svc(ST(dp), vip);

	return id < SL_MAX_SERVICES ? (int)id : -ENOENT;
}

int sl_dp_read_percpu(const struct sl_dp *dp, int fd, __u32 first, __u32 n, size_t vsz, void *buf)
{
	size_t one = ((vsz + 7) & ~(size_t)7) * (size_t)dp->nr_cpus;
	__u32 *keys, prev = first ? first - 1 : 0, done = 0;
	bool started = first > 0;
	int rc = 0;

	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	/* the kernel's generic batch walks get_next_key: in_batch is the
	 * key before the first one returned, out_batch the last one */
	while (done < n) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = n - done, out = 0;

		rc = bpf_map_lookup_batch(fd, started ? &prev : NULL, &out, keys + done,
					  (char *)buf + done * one, &count, &opts);
		if (rc && rc != -ENOENT)
			break;
		if (!count) {
			rc = rc == -ENOENT ? 0 : -EIO;  /* past the end: nothing more */
			break;
		}
		done += count;
		prev = out;
		started = true;
		if (rc == -ENOENT) {
			rc = 0;
			break;
		}
		rc = 0;
	}
	if (!rc && done < n)
		memset((char *)buf + done * one, 0, (n - done) * one);
	free(keys);
	return rc;
}

/* Backend ids in use, for the next-hop resolver. */
const struct sl_backend *sl_dp_backend(const struct sl_dp *dp, __u32 id)
{
	const struct dp_state *st = (const struct dp_state *)dp;

	return id && id < SL_MAX_BACKENDS && st->bk_used[id] ? &st->bk[id] : NULL;
}

/* ---- interfaces ------------------------------------------------------- */

int sl_dp_attach(struct sl_dp *dp, const struct sl_config *cfg, char *err, size_t errlen)
{
	struct dp_state *st = ST(dp);
	int flags = cfg->xdp_generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	__u32 want[SL_MAX_IFACES], i, j, key, next;
	void *prev = NULL;
	int rc;

	for (i = 0; i < cfg->nr_ifaces; i++) {
		__u32 ifindex = if_nametoindex(cfg->ifaces[i]);

		want[i] = 0;
		if (!ifindex) {
			sl_log(LOG_WARNING, "interface %s not found: not attached (attached when it appears)",
			       cfg->ifaces[i]);
			continue;
		}
		rc = bpf_map_update_elem(FD(dp, sl_tx), &ifindex, &ifindex, BPF_ANY);
		if (rc)
			return errf(err, errlen, rc, "cannot add %s to the devmap: %s",
				    cfg->ifaces[i], strerror(-rc));
		/* No XDP_FLAGS_UPDATE_IF_NOEXIST: an attached program (ours
		 * from a previous sluiced) is replaced atomically. */
		rc = bpf_xdp_attach(ifindex, sl_dp_prog_fd(dp), flags, NULL);
		if (rc)
			return errf(err, errlen, rc, "cannot attach XDP (%s mode) to %s: %s",
				    cfg->xdp_generic ? "generic" : "native", cfg->ifaces[i], strerror(-rc));
		want[i] = ifindex;
	}
	/* Interfaces that left the config lose the program and the devmap slot. */
	for (i = 0; i < st->nr_ifindex; i++) {
		if (!st->ifindex[i])
			continue;
		for (j = 0; j < cfg->nr_ifaces && want[j] != st->ifindex[i]; j++)
			;
		if (j == cfg->nr_ifaces)
			bpf_xdp_detach(st->ifindex[i], st->xdp_flags, NULL);
	}
	while (!bpf_map_get_next_key(FD(dp, sl_tx), prev, &next)) {
		key = next;
		prev = &key;
		for (j = 0; j < cfg->nr_ifaces && want[j] != key; j++)
			;
		if (j == cfg->nr_ifaces) {
			bpf_map_delete_elem(FD(dp, sl_tx), &key);
			prev = NULL;
		}
	}
	for (i = 0; i < cfg->nr_ifaces; i++)
		snprintf(st->ifname[i], sizeof(st->ifname[i]), "%s", cfg->ifaces[i]);
	memcpy(st->ifindex, want, cfg->nr_ifaces * sizeof(__u32));
	st->nr_ifindex = cfg->nr_ifaces;
	st->xdp_flags = flags;
	return 0;
}

static void iface_drop(struct dp_state *st, unsigned slot, const char *why)
{
	struct sl_dp *dp = &st->pub;
	__u32 old = st->ifindex[slot];

	bpf_map_delete_elem(FD(dp, sl_tx), &old);
	st->ifindex[slot] = 0;
	sl_log(LOG_WARNING, "interface %s (ifindex %u) %s: dropped from the devmap",
	       st->ifname[slot], old, why);
}

int sl_dp_iface_seen(struct sl_dp *dp, const char *name, __u32 ifindex)
{
	struct dp_state *st = ST(dp);
	unsigned i;
	int rc, ret = 0;

	for (i = 0; i < st->nr_ifindex; i++) {
		bool same_name = !strcmp(st->ifname[i], name);

		if (st->ifindex[i] == ifindex && !same_name) {
			/* renamed away from a configured name */
			bpf_xdp_detach(ifindex, st->xdp_flags, NULL);
			iface_drop(st, i, "was renamed");
			continue;
		}
		if (!same_name || st->ifindex[i] == ifindex)
			continue;
		if (st->ifindex[i])
			iface_drop(st, i, "was replaced");
		rc = bpf_map_update_elem(FD(dp, sl_tx), &ifindex, &ifindex, BPF_ANY);
		if (!rc)
			rc = bpf_xdp_attach(ifindex, sl_dp_prog_fd(dp), st->xdp_flags, NULL);
		if (rc) {
			bpf_map_delete_elem(FD(dp, sl_tx), &ifindex);
			sl_log(LOG_ERR, "interface %s appeared (ifindex %u), cannot attach XDP: %s",
			       name, ifindex, strerror(-rc));
			ret = rc;
			continue;
		}
		st->ifindex[i] = ifindex;
		sl_log(LOG_NOTICE, "interface %s appeared (ifindex %u): program attached, devmap updated",
		       name, ifindex);
	}
	return ret;
}

void sl_dp_iface_gone(struct sl_dp *dp, __u32 ifindex)
{
	struct dp_state *st = ST(dp);
	unsigned i;

	for (i = 0; i < st->nr_ifindex; i++)
		if (ifindex && st->ifindex[i] == ifindex)
			iface_drop(st, i, "disappeared");
}

int sl_dp_pinned_hash(const struct sl_dp *dp, __u64 *hash)
{
	struct sl_meta meta;
	__u32 zero = 0;
	int rc;

	rc = bpf_map_lookup_elem(FD(dp, sl_meta), &zero, &meta);
	if (rc)
		return rc;
	*hash = meta.config_hash;
	return 0;
}

static bool prog_is_ours(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);
	bool ours;

	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "sluice_xdp");
	close(fd);
	return ours;
}

int sl_dp_teardown(const struct sl_config *cfg, const char *pin_root, char *err, size_t errlen)
{
	struct sluice *skel;
	struct bpf_map *m;
	char path[320];
	unsigned i;

	for (i = 0; i < cfg->nr_ifaces; i++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		__u32 ifindex = if_nametoindex(cfg->ifaces[i]);

		if (!ifindex || bpf_xdp_query(ifindex, 0, &q))
			continue;
		if (q.attach_mode == XDP_ATTACHED_DRV && prog_is_ours(q.drv_prog_id))
			bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		else if (q.attach_mode == XDP_ATTACHED_SKB && prog_is_ours(q.skb_prog_id))
			bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
		else
			continue;
		sl_log(LOG_INFO, "detached from %s", cfg->ifaces[i]);
	}
	skel = sluice__open();
	if (!skel)
		return errf(err, errlen, errno, "cannot open the BPF object: %s", strerror(errno));
	bpf_object__for_each_map(m, skel->obj) {
		pin_path(path, sizeof(path), pin_root, bpf_map__name(m));
		if (unlink(path) && errno != ENOENT)
			sl_log(LOG_WARNING, "cannot remove %s: %s", path, strerror(errno));
	}
	sluice__destroy(skel);
	if (rmdir(pin_root) && errno != ENOENT)
		sl_log(LOG_WARNING, "cannot remove %s: %s", pin_root, strerror(errno));
	return 0;
}

/* ---- redispatch: the client's SYN, injected ------------------------------- */

#include <netinet/in.h>
#include <sluice/syn.h>

/*
 * Run the client's SYN of flow k, rebuilt from its entry c exactly as the
 * client sent it (include/sluice/syn.h, sl_syn_client_frame), through the
 * XDP program arriving on the SYN's ingress interface: a SYN for a PENDING
 * flow past its connect_timeout is redispatched by the program itself (see
 * dataplane.h). Two ways to hand it over: a live frame, the kernel
 * carrying out the verdict (redirect, XDP_TX, the stack for XDP_PASS), or
 * inject_replay below.
 *
 * run_syn: the frame through the program on ingress ifindex; live, or with
 * the verdict and the rewritten frame back in *verdict, out and *out_len
 * (out's size on entry).
 */
static int run_syn(struct sl_dp *dp, void *frame, __u32 len, __u32 ifindex, bool live,
		   void *out, __u32 *out_len, __u32 *verdict)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1,
		    .flags = live ? BPF_F_TEST_XDP_LIVE_FRAMES : 0,
		    .data_out = out, .data_size_out = out_len ? *out_len : 0);

	if (bpf_prog_test_run_opts(sl_dp_prog_fd(dp), &o))
		return errno ? -errno : -EIO;
	if (out_len)
		*out_len = o.data_size_out;
	if (verdict)
		*verdict = o.retval;
	return 0;
}

/* The redirect target (an sl_tx interface) whose address is mac: the
 * one the program rewrote the frame to leave by, since a next hop's
 * source MAC is its interface's. 0 when none or more than one has it. */
static __u32 tx_ifindex_of(struct sl_dp *dp, const __u8 *mac)
{
	__u32 key, *prev = NULL, found = 0;
	struct ifreq ifr;

	while (!bpf_map_get_next_key(FD(dp, sl_tx), prev, &key)) {
		prev = &key;
		if (!if_indextoname(key, ifr.ifr_name) || ioctl(dp->pkt_fd, SIOCGIFHWADDR, &ifr) ||
		    memcmp(ifr.ifr_hwaddr.sa_data, mac, ETH_ALEN))
			continue;
		if (found)
			return 0;
		found = key;
	}
	return found;
}

/* inject_replay: the frame through the program in an ordinary test run,
 * and its verdict carried out here: a redirect leaves by the configured interface whose
 * MAC the rewritten frame carries as its source, XDP_TX by the ingress
 * interface, both through a packet socket (CAP_NET_RAW). XDP_DROP sends
 * nothing; XDP_PASS (the stack's: a next hop unresolved) cannot be
 * replayed and is -ENETUNREACH. The maps change as with a live frame:
 * the same program ran. */
static int inject_replay(struct sl_dp *dp, void *frame, __u32 len, __u32 ifindex)
{
	__u8 out[SL_SYN_FRAME_MAX + 64];
	__u32 out_len = sizeof(out), verdict, tx;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	int rc;

	if (dp->pkt_fd < 0) {
		dp->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
		if (dp->pkt_fd < 0) {
			int e = errno;

			if (!dp->pkt_warned)
				sl_log(LOG_WARNING, "cannot open a packet socket (%s): timed-out "
				       "connects wait for the client's own SYN retransmission", strerror(e));
			dp->pkt_warned = true;
			return -e;
		}
	}
	rc = run_syn(dp, frame, len, ifindex, false, out, &out_len, &verdict);
	if (rc)
		return rc;
	if (verdict == XDP_DROP)
		return 0;
	if ((verdict != XDP_REDIRECT && verdict != XDP_TX) || out_len < ETH_HLEN ||
	    out_len > sizeof(out))
		return -ENETUNREACH;
	tx = verdict == XDP_TX ? ifindex : tx_ifindex_of(dp, out + ETH_ALEN);
	if (!tx)
		return -ENETUNREACH;
	sll.sll_ifindex = (int)tx;
	memcpy(&sll.sll_protocol, out + 2 * ETH_ALEN, sizeof(sll.sll_protocol));
	memcpy(sll.sll_addr, out, ETH_ALEN);
	if (sendto(dp->pkt_fd, out, out_len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

void sl_dp_inject_mode(struct sl_dp *dp, enum sl_inject_mode m)
{
	dp->inject = m;
}

int sl_dp_inject_syn(struct sl_dp *dp, const struct sl_flow_key *k, const struct sl_conn *c)
{
	__u8 frame[SL_SYN_FRAME_MAX];
	__u32 len;
	int rc;

	if (!dp || !k || !c || k->proto != IPPROTO_TCP || !c->syn_ifindex ||
	    (k->family != SL_AF_INET && k->family != SL_AF_INET6))
		return -EINVAL;
	len = sl_syn_client_frame(frame, k, c);
	if (dp->inject != SL_INJECT_REPLAY) {
		rc = run_syn(dp, frame, len, c->syn_ifindex, true, NULL, NULL, NULL);
		if (rc != -EPERM && rc != -EOPNOTSUPP)
			return rc;
		/* before 5.18, or a kernel that keeps live frames from
		 * BPF_PROG_RUN: the same frame, its verdict carried out here */
		sl_log(LOG_NOTICE, "live frames refused (%s): redispatched SYNs are replayed "
		       "(test run, then a packet socket)", strerror(-rc));
		dp->inject = SL_INJECT_REPLAY;
	}
	return inject_replay(dp, frame, len, c->syn_ifindex);
}
