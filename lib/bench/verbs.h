// SPDX-License-Identifier: MIT
/*
 * libibverbs, loaded with dlopen: one typed symbol table. The types come from the
 * headers of libibverbs-dev at build time; each symbol is looked up at the version the
 * headers bind it to (the library also exports IBVERBS_1.0 compatibility versions of
 * most of them, with other structure layouts). post_send, post_recv and poll_cq are
 * inline in verbs.h and go through the device's ops: they need no symbol.
 */
#ifndef IBUP_VERBS_H
#define IBUP_VERBS_H

#include <infiniband/verbs.h>

/* X(field, symbol, version) */
#define IBUP_VERBS_SYMBOLS(X)                                            \
	X(get_device_list, ibv_get_device_list, "IBVERBS_1.1")           \
	X(free_device_list, ibv_free_device_list, "IBVERBS_1.1")         \
	X(get_device_name, ibv_get_device_name, "IBVERBS_1.1")           \
	X(open_device, ibv_open_device, "IBVERBS_1.1")                   \
	X(close_device, ibv_close_device, "IBVERBS_1.1")                 \
	X(query_device, ibv_query_device, "IBVERBS_1.1")                 \
	X(query_port_compat, ibv_query_port, "IBVERBS_1.1")              \
	X(query_gid, ibv_query_gid, "IBVERBS_1.1")                       \
	X(query_pkey, ibv_query_pkey, "IBVERBS_1.1")                     \
	X(alloc_pd, ibv_alloc_pd, "IBVERBS_1.1")                         \
	X(dealloc_pd, ibv_dealloc_pd, "IBVERBS_1.1")                     \
	X(reg_mr, ibv_reg_mr, "IBVERBS_1.1")                             \
	X(dereg_mr, ibv_dereg_mr, "IBVERBS_1.1")                         \
	X(create_cq, ibv_create_cq, "IBVERBS_1.1")                       \
	X(destroy_cq, ibv_destroy_cq, "IBVERBS_1.1")                     \
	X(create_qp, ibv_create_qp, "IBVERBS_1.1")                       \
	X(destroy_qp, ibv_destroy_qp, "IBVERBS_1.1")                     \
	X(modify_qp, ibv_modify_qp, "IBVERBS_1.1")                       \
	X(query_qp, ibv_query_qp, "IBVERBS_1.1")                         \
	X(wc_status_str, ibv_wc_status_str, "IBVERBS_1.1")               \
	X(create_comp_channel, ibv_create_comp_channel, "IBVERBS_1.0")   \
	X(destroy_comp_channel, ibv_destroy_comp_channel, "IBVERBS_1.0") \
	X(get_cq_event, ibv_get_cq_event, "IBVERBS_1.1")                 \
	X(ack_cq_events, ibv_ack_cq_events, "IBVERBS_1.1")

/* Optional: absent from older rdma-core; NULL then. */
#define IBUP_VERBS_OPTIONAL(X) X(reg_mr_iova2, ibv_reg_mr_iova2, "IBVERBS_1.8")

struct ibup_verbs {
	void *handle;
#define IBUP_VERBS_FIELD(f, s, v) __typeof__(s) *f;
	IBUP_VERBS_SYMBOLS(IBUP_VERBS_FIELD)
	IBUP_VERBS_OPTIONAL(IBUP_VERBS_FIELD)
#undef IBUP_VERBS_FIELD
};

/*
 * Load libibverbs.so.1 (once per process; the table is never unloaded, since provider
 * libraries keep pointers into it). -ELIBACC when it is not installed, -ELIBBAD when a
 * symbol is missing; @err says which, for the user.
 */
int ibup_verbs_load(const struct ibup_verbs **ret, char *err, size_t err_size);

/* ibv_query_port as verbs.h inlines it, through the table. */
int ibup_verbs_query_port(const struct ibup_verbs *v, struct ibv_context *c, uint8_t port,
			  struct ibv_port_attr *attr);

#endif
