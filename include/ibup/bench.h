// SPDX-License-Identifier: MIT
/*
 * libibup's verbs benchmark: RC bandwidth and latency between two queue pairs, on one
 * device (loopback), on two devices of this host, or between two hosts with a TCP
 * exchange of the connection data. libibverbs is loaded with dlopen on first use.
 */
#ifndef IBUP_BENCH_H
#define IBUP_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ibup/ibup.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ibup_bench_test {
	IBUP_BENCH_WRITE_BW,
	IBUP_BENCH_READ_BW,
	IBUP_BENCH_SEND_BW,
	IBUP_BENCH_WRITE_LAT,
	IBUP_BENCH_SEND_LAT,
	IBUP_BENCH_N_TESTS,
};

/* "write_bw", "read_bw", "send_bw", "write_lat", "send_lat". */
const char *ibup_bench_test_name(enum ibup_bench_test t);
/* Accepts the names above and "write-bw" etc.; -EINVAL for anything else. */
int ibup_bench_test_from_name(const char *name, enum ibup_bench_test *ret);
bool ibup_bench_test_is_latency(enum ibup_bench_test t);

#define IBUP_BENCH_MIN_SIZE 2u
#define IBUP_BENCH_MAX_SIZE (8u << 20) /* --all runs 2 B, 4 B, ... 8 MiB */
#define IBUP_BENCH_DEFAULT_PORT 18515u /* the TCP port of the exchange, as perftest */

struct ibup_bench_opts {
	enum ibup_bench_test test;
	size_t size; /* bytes per message */
	bool all_sizes; /* every power of two from 2 B to 8 MiB; size is ignored */
	uint64_t iterations; /* messages per size (bandwidth) or round trips (latency) */
	double duration_s; /* > 0: run each size this long instead of a count */
	unsigned depth; /* outstanding work requests per QP (bandwidth) */
	unsigned qps; /* queue pairs (bandwidth tests) */
	unsigned cq_mod; /* signal one send in cq_mod; 0: depth / 4 */
	unsigned post_list; /* work requests chained per post; 0: automatic */
	int inline_size; /* bytes sent inline at most; -1: what the QP allows */
	bool verify; /* check every payload arrives intact */
	unsigned
		timeout_ms; /* each step of the exchange, and the longest silence of a peer */
	/* the RC ACK timeout, 4.096 us << this (1-31); 0: 14 (67 ms) */
	unsigned qp_timeout;
};

/* Defaults: perftest's where it has them (64 KiB / 2 B, 5000 or 1000 iterations). */
void ibup_bench_opts_init(struct ibup_bench_opts *o, enum ibup_bench_test test);

/* Which device and port to use, and optionally which GID and P_Key index. */
struct ibup_bench_where {
	const char *device; /* NULL: the first active InfiniBand or RoCE port */
	unsigned port; /* 0: the device's first active port */
	int gid_index; /* -1: choose (RoCE: v2, IPv4-mapped preferred; IB: none) */
	int pkey_index; /* -1: the tenant P_Key's index (Azure), else 0 */
	bool no_numa; /* leave this side's buffers and thread where the system puts them */
};

/* What one side ended up using, for the report. */
struct ibup_bench_side {
	char device[64];
	unsigned port;
	char link_layer[16]; /* "infiniband" or "ethernet" */
	int gid_index; /* -1: no GRH */
	char gid[40]; /* kernel notation; empty without GRH */
	int pkey_index;
	uint16_t pkey;
	unsigned mtu; /* the path MTU in bytes */
	int numa_node; /* -1: none or not placed */
	int cpu; /* the one CPU its thread was pinned to (both sides in one process), or -1 */
	unsigned inline_max; /* what the QP accepts inline */
	uint32_t lid;
};

/* Latency statistics, in microseconds (one-way: half the round trip). */
struct ibup_lat_stats {
	double min_us, median_us, mean_us, stdev_us, p99_us, p999_us, max_us;
};

struct ibup_bench_result {
	size_t size;
	uint64_t iterations; /* completed messages or round trips */
	unsigned post_list; /* work requests chained per post at this size */
	double seconds; /* from the first post to the last completion */
	/* Bandwidth tests; 10^9 bit/s. MiB/s = gbps * 1e9 / 8 / 2^20. */
	double bw_avg_gbps, bw_peak_gbps, msg_rate_mpps;
	/* Latency tests. */
	struct ibup_lat_stats lat;
	bool verified; /* --verify ran over every payload and all were intact */
};

struct ibup_bench_report {
	enum ibup_bench_test test;
	char mode[16]; /* "loopback", "local", "client", "server" */
	struct ibup_bench_side local, remote;
	unsigned qps, depth, cq_mod, inline_size;
	unsigned post_list; /* as asked; 0: automatic (each result says what was used) */
	struct ibup_bench_result *results; /* one per size, in the order run */
	unsigned n_results;
	char clock[32]; /* the timing source */
	double clock_read_ns; /* what one read of it costs here (median of 1000); NAN unknown */
	char error[256]; /* why it stopped, when a call returned an error */
};

/* Called after each size; may print. Return non-zero to stop. */
typedef int ibup_bench_result_fn(void *userdata, const struct ibup_bench_report *r,
				 const struct ibup_bench_result *res);

/**
 * ibup_bench_local() - run a test between two QPs of this host
 * @client: the side that posts (writes, reads, sends, pings); no device: the default
 * @server: the other side; no device: @client's (loopback)
 *
 * Return: 0, or a negative errno with @report->error saying why: -ELIBACC when
 * libibverbs cannot be loaded, -ENODEV when the device or port is not there, -ENETDOWN
 * when the port is not active, -EIO when a work request failed, -EBADMSG when a payload
 * arrived corrupted (--verify), -ETIMEDOUT when the peer went silent.
 */
int ibup_bench_local(struct ibup_ctx *ctx, const struct ibup_bench_opts *o,
		     const struct ibup_bench_where *client,
		     const struct ibup_bench_where *server, ibup_bench_result_fn *fn,
		     void *userdata, struct ibup_bench_report *report);

/**
 * ibup_bench_local_with_status() - ibup_bench_local() on an inventory already taken
 * @st: the inventory (ibup_status_read()) to choose the devices and ports from;
 *      borrowed, and only read, for the length of the call
 *
 * For a caller that holds the inventory already, such as `ibup check --bench`
 * measuring each port it has checked: the devices are not read a second time.
 * Otherwise as ibup_bench_local(), with the same returns.
 */
int ibup_bench_local_with_status(struct ibup_ctx *ctx, const struct ibup_status *st,
				 const struct ibup_bench_opts *o,
				 const struct ibup_bench_where *client,
				 const struct ibup_bench_where *server,
				 ibup_bench_result_fn *fn, void *userdata,
				 struct ibup_bench_report *report);

/*
 * The two-host mode. The client connects to @host:@port and tells the server which
 * test to run; the server needs no test options of its own. The server serves one
 * client and returns; its report carries what the client asked for and its side's
 * verification.
 */
int ibup_bench_client(struct ibup_ctx *ctx, const struct ibup_bench_opts *o,
		      const struct ibup_bench_where *where, const char *host,
		      unsigned port, ibup_bench_result_fn *fn, void *userdata,
		      struct ibup_bench_report *report);
int ibup_bench_server(struct ibup_ctx *ctx, const struct ibup_bench_where *where,
		      const char *bind_addr, unsigned port, unsigned timeout_ms,
		      struct ibup_bench_report *report);

void ibup_bench_report_release(struct ibup_bench_report *r);

/*
 * The sweep's endpoint: one per rank (MPI process) of `ibup-sweep`, on its device, for
 * the whole sweep. It is opened once (PD, memory region, CQs, two RC queue pairs (one
 * per direction), buffers and the thread on the HCA's NUMA node) and re-connected to a
 * new peer each round without new allocations. The connection data is an opaque blob of
 * ibup_bench_ep_blob_size() bytes (fixed size, big-endian inside) that the caller
 * carries to the peer by whatever means it has (MPI), anew for each connection. Both
 * peers run the same call at the same time: the bandwidth test writes both ways at
 * once, each side measuring what it sent.
 */
struct ibup_bench_ep;

struct ibup_bench_ep_opts {
	size_t size; /* bytes per RDMA write; 0: 64 KiB */
	size_t lat_size; /* bytes per ping of the latency test; 0: 8 */
	unsigned depth; /* writes outstanding; 0: 64 */
	bool events; /* wait on completion events instead of polling the CQ */
	bool prefer_link_local; /* RoCE: the link-local GID (devices in one host) */
	unsigned timeout_ms; /* the longest silence of a peer; 0: 10000 */
	unsigned qp_timeout; /* the ACK timeout, 4.096 us << this (1-31); 0: 14 (67 ms) */
};

size_t ibup_bench_ep_blob_size(void);

/**
 * ibup_bench_ep_open() - open an endpoint on a device
 * @st: the inventory to choose the device and port from (borrowed for the call)
 * @err: why it failed, for the user
 *
 * Return: 0, or a negative errno as ibup_bench_local() returns them.
 */
int ibup_bench_ep_open(struct ibup_ctx *ctx, const struct ibup_status *st,
		       const struct ibup_bench_where *w,
		       const struct ibup_bench_ep_opts *o, struct ibup_bench_ep **ret,
		       char *err, size_t err_size);
/* This side: device, port, GID, NUMA node... */
const struct ibup_bench_side *ibup_bench_ep_side(const struct ibup_bench_ep *ep);
/* The last error's text ("" when none). */
const char *ibup_bench_ep_error(const struct ibup_bench_ep *ep);
/* This endpoint's connection data into @buf (ibup_bench_ep_blob_size() bytes). */
int ibup_bench_ep_blob(struct ibup_bench_ep *ep, void *buf, size_t len);
/*
 * Drop the connection (if any): the queue pair back to INIT with a new packet sequence
 * number, which the next blob carries. So each round: reset, exchange blobs, connect.
 */
int ibup_bench_ep_reset(struct ibup_bench_ep *ep);
/* Connect to the peer whose blob this is; -EISCONN when still connected. */
int ibup_bench_ep_connect(struct ibup_bench_ep *ep, const void *blob, size_t len);
/*
 * Write to the peer for @duration_s while it writes to this side; @gbps is what this
 * side sent (10^9 bit/s), from the first post to the last completion.
 */
int ibup_bench_ep_bw(struct ibup_bench_ep *ep, double duration_s, double *gbps);
/*
 * Ping-pong of lat_size-byte sends, @iterations round trips; the @initiator side
 * measures, and @lat gets the one-way figures (half the round trip). The other side
 * answers (its @lat is left zero).
 */
int ibup_bench_ep_lat(struct ibup_bench_ep *ep, bool initiator, unsigned iterations,
		      struct ibup_lat_stats *lat);
void ibup_bench_ep_close(struct ibup_bench_ep *ep);

#ifdef __cplusplus
}
#endif

#endif
