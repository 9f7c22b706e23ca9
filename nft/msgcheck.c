/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft/msgcheck.h"

/* What an attribute must be. The sizes are the kernel's (nf_tables.h documents each as
 * NLA_U32 and so on); libnftnl asserts the same ones. */
enum kind {
	ANY = 0, /* unread, or bytes of any length */
	U8, U16, U32, U64,
	STR,     /* not empty; the NUL is optional (NLA_STRING: libnftnl builds some without
		  * one), so a stored message is followed by one (snapshot.c add_raw()) */
	NULSTR,  /* not empty and ending in its NUL (libnftnl exit()s on the names of match
		  * and target without it; an expression's name is looked up as a C string) */
	NEST,    /* attributes, checked against sub when given */
	VALUE,   /* struct nft_data holding a value (1 to 64 bytes), as keys and operands do */
	DATA,    /* struct nft_data holding a value or a verdict (a code, and the chain of a
		  * jump): what immediates and map elements carry */
	EXPR,    /* one expression: its name, and its data as that expression's policy says */
	EXPRS,   /* a list (NFTA_LIST_ELEM) of expressions */
	LIST,    /* a list (NFTA_LIST_ELEM) of nests, each checked against sub */
	CONCAT,  /* a set's concatenation: a LIST of at most NFT_REG32_COUNT fields */
};

struct rule {
	uint8_t kind;
	const struct policy *sub;
};

/* libnftnl keeps the last of a repeated attribute, and validates each; this check reads the
 * first (find()) and, for an expression, checks the data against the first name. So an
 * attribute may appear once per nest (the kernel writes each once), except in a policy
 * that is a list of names (many). Found by fuzzing: a second, one-byte NFTA_EXPR_DATA
 * (tests/fuzz/corpus-snapshot/regress-expr-data-twice). */
struct policy {
	uint16_t max;            /* < 64: the attributes seen are a bit mask */
	bool many;
	const struct rule *r;    /* r[0..max] */
};

#define POLICY(name, rules) \
	_Static_assert(sizeof(rules) / sizeof(rules[0]) <= 64, #name " has too many types"); \
	static const struct policy name = { sizeof(rules) / sizeof(rules[0]) - 1, false, rules }

/* Expressions, then values within expressions, can nest (a set's dynset expression holds
 * an expression): deeper than this is no ruleset nftgate reads. */
#define MAX_DEPTH 8
/* libnftnl keeps a set's concatenated fields in an array of this many (set.h). */
#define MAX_CONCAT_FIELDS 16

/* ---- the ABI ---- */

static const struct rule verdict_r[NFTA_VERDICT_MAX + 1] = {
	[NFTA_VERDICT_CODE] = { U32, NULL }, [NFTA_VERDICT_CHAIN] = { STR, NULL },
	[NFTA_VERDICT_CHAIN_ID] = { U32, NULL },
};
POLICY(verdict_p, verdict_r);

static const struct rule data_r[NFTA_DATA_MAX + 1] = {
	[NFTA_DATA_VALUE] = { ANY, NULL }, [NFTA_DATA_VERDICT] = { NEST, &verdict_p },
};
POLICY(data_p, data_r);

static const struct rule counter_r[NFTA_COUNTER_MAX + 1] = {
	[NFTA_COUNTER_BYTES] = { U64, NULL }, [NFTA_COUNTER_PACKETS] = { U64, NULL },
};
POLICY(counter_p, counter_r);

static const struct rule none_r[1] = { [0] = { ANY, NULL } };
POLICY(none_p, none_r);

/* An expression: its data is checked apart, by the policy its name picks. */
static const struct rule expr_r[NFTA_EXPR_MAX + 1] = {
	[NFTA_EXPR_NAME] = { NULSTR, NULL }, [NFTA_EXPR_DATA] = { NEST, NULL },
};
POLICY(expr_p, expr_r);

static const struct rule bitwise_r[NFTA_BITWISE_MAX + 1] = {
	[NFTA_BITWISE_SREG] = { U32, NULL }, [NFTA_BITWISE_DREG] = { U32, NULL },
	[NFTA_BITWISE_LEN] = { U32, NULL }, [NFTA_BITWISE_MASK] = { VALUE, NULL },
	[NFTA_BITWISE_XOR] = { VALUE, NULL }, [NFTA_BITWISE_OP] = { U32, NULL },
	[NFTA_BITWISE_DATA] = { VALUE, NULL },
};
POLICY(bitwise_p, bitwise_r);

static const struct rule byteorder_r[NFTA_BYTEORDER_MAX + 1] = {
	[NFTA_BYTEORDER_SREG] = { U32, NULL }, [NFTA_BYTEORDER_DREG] = { U32, NULL },
	[NFTA_BYTEORDER_OP] = { U32, NULL }, [NFTA_BYTEORDER_LEN] = { U32, NULL },
	[NFTA_BYTEORDER_SIZE] = { U32, NULL },
};
POLICY(byteorder_p, byteorder_r);

static const struct rule cmp_r[NFTA_CMP_MAX + 1] = {
	[NFTA_CMP_SREG] = { U32, NULL }, [NFTA_CMP_OP] = { U32, NULL }, [NFTA_CMP_DATA] = { VALUE, NULL },
};
POLICY(cmp_p, cmp_r);

static const struct rule connlimit_r[NFTA_CONNLIMIT_MAX + 1] = {
	[NFTA_CONNLIMIT_COUNT] = { U32, NULL }, [NFTA_CONNLIMIT_FLAGS] = { U32, NULL },
};
POLICY(connlimit_p, connlimit_r);

static const struct rule ct_r[NFTA_CT_MAX + 1] = {
	[NFTA_CT_DREG] = { U32, NULL }, [NFTA_CT_KEY] = { U32, NULL }, [NFTA_CT_DIRECTION] = { U8, NULL },
	[NFTA_CT_SREG] = { U32, NULL },
};
POLICY(ct_p, ct_r);

static const struct rule dup_r[NFTA_DUP_MAX + 1] = {
	[NFTA_DUP_SREG_ADDR] = { U32, NULL }, [NFTA_DUP_SREG_DEV] = { U32, NULL },
};
POLICY(dup_p, dup_r);

static const struct rule dynset_r[NFTA_DYNSET_MAX + 1] = {
	[NFTA_DYNSET_SET_NAME] = { STR, NULL }, [NFTA_DYNSET_SET_ID] = { U32, NULL },
	[NFTA_DYNSET_OP] = { U32, NULL }, [NFTA_DYNSET_SREG_KEY] = { U32, NULL },
	[NFTA_DYNSET_SREG_DATA] = { U32, NULL }, [NFTA_DYNSET_TIMEOUT] = { U64, NULL },
	[NFTA_DYNSET_EXPR] = { EXPR, NULL }, [NFTA_DYNSET_FLAGS] = { U32, NULL },
	[NFTA_DYNSET_EXPRESSIONS] = { EXPRS, NULL },
};
POLICY(dynset_p, dynset_r);

static const struct rule exthdr_r[NFTA_EXTHDR_MAX + 1] = {
	[NFTA_EXTHDR_DREG] = { U32, NULL }, [NFTA_EXTHDR_TYPE] = { U8, NULL },
	[NFTA_EXTHDR_OFFSET] = { U32, NULL }, [NFTA_EXTHDR_LEN] = { U32, NULL },
	[NFTA_EXTHDR_FLAGS] = { U32, NULL }, [NFTA_EXTHDR_OP] = { U32, NULL },
	[NFTA_EXTHDR_SREG] = { U32, NULL },
};
POLICY(exthdr_p, exthdr_r);

static const struct rule fib_r[NFTA_FIB_MAX + 1] = {
	[NFTA_FIB_DREG] = { U32, NULL }, [NFTA_FIB_RESULT] = { U32, NULL }, [NFTA_FIB_FLAGS] = { U32, NULL },
};
POLICY(fib_p, fib_r);

static const struct rule flow_r[NFTA_FLOW_MAX + 1] = {
	[NFTA_FLOW_TABLE_NAME] = { STR, NULL },
};
POLICY(flow_p, flow_r);

static const struct rule fwd_r[NFTA_FWD_MAX + 1] = {
	[NFTA_FWD_SREG_DEV] = { U32, NULL }, [NFTA_FWD_SREG_ADDR] = { U32, NULL },
	[NFTA_FWD_NFPROTO] = { U32, NULL },
};
POLICY(fwd_p, fwd_r);

static const struct rule hash_r[NFTA_HASH_MAX + 1] = {
	[NFTA_HASH_SREG] = { U32, NULL }, [NFTA_HASH_DREG] = { U32, NULL }, [NFTA_HASH_LEN] = { U32, NULL },
	[NFTA_HASH_MODULUS] = { U32, NULL }, [NFTA_HASH_SEED] = { U32, NULL },
	[NFTA_HASH_OFFSET] = { U32, NULL }, [NFTA_HASH_TYPE] = { U32, NULL },
	[NFTA_HASH_SET_NAME] = { STR, NULL }, [NFTA_HASH_SET_ID] = { U32, NULL },
};
POLICY(hash_p, hash_r);

static const struct rule immediate_r[NFTA_IMMEDIATE_MAX + 1] = {
	[NFTA_IMMEDIATE_DREG] = { U32, NULL }, [NFTA_IMMEDIATE_DATA] = { DATA, NULL },
};
POLICY(immediate_p, immediate_r);

static const struct rule last_r[NFTA_LAST_MAX + 1] = {
	[NFTA_LAST_SET] = { U32, NULL }, [NFTA_LAST_MSECS] = { U64, NULL },
};
POLICY(last_p, last_r);

static const struct rule limit_r[NFTA_LIMIT_MAX + 1] = {
	[NFTA_LIMIT_RATE] = { U64, NULL }, [NFTA_LIMIT_UNIT] = { U64, NULL },
	[NFTA_LIMIT_BURST] = { U32, NULL }, [NFTA_LIMIT_TYPE] = { U32, NULL },
	[NFTA_LIMIT_FLAGS] = { U32, NULL },
};
POLICY(limit_p, limit_r);

static const struct rule log_r[NFTA_LOG_MAX + 1] = {
	[NFTA_LOG_GROUP] = { U16, NULL }, [NFTA_LOG_PREFIX] = { STR, NULL },
	[NFTA_LOG_SNAPLEN] = { U32, NULL }, [NFTA_LOG_QTHRESHOLD] = { U16, NULL },
	[NFTA_LOG_LEVEL] = { U32, NULL }, [NFTA_LOG_FLAGS] = { U32, NULL },
};
POLICY(log_p, log_r);

static const struct rule lookup_r[NFTA_LOOKUP_MAX + 1] = {
	[NFTA_LOOKUP_SET] = { STR, NULL }, [NFTA_LOOKUP_SREG] = { U32, NULL },
	[NFTA_LOOKUP_DREG] = { U32, NULL }, [NFTA_LOOKUP_SET_ID] = { U32, NULL },
	[NFTA_LOOKUP_FLAGS] = { U32, NULL },
};
POLICY(lookup_p, lookup_r);

static const struct rule masq_r[NFTA_MASQ_MAX + 1] = {
	[NFTA_MASQ_FLAGS] = { U32, NULL }, [NFTA_MASQ_REG_PROTO_MIN] = { U32, NULL },
	[NFTA_MASQ_REG_PROTO_MAX] = { U32, NULL },
};
POLICY(masq_p, masq_r);

static const struct rule match_r[NFTA_MATCH_MAX + 1] = {
	[NFTA_MATCH_NAME] = { NULSTR, NULL }, [NFTA_MATCH_REV] = { U32, NULL }, [NFTA_MATCH_INFO] = { ANY, NULL },
};
POLICY(match_p, match_r);

static const struct rule meta_r[NFTA_META_MAX + 1] = {
	[NFTA_META_DREG] = { U32, NULL }, [NFTA_META_KEY] = { U32, NULL }, [NFTA_META_SREG] = { U32, NULL },
};
POLICY(meta_p, meta_r);

static const struct rule nat_r[NFTA_NAT_MAX + 1] = {
	[NFTA_NAT_TYPE] = { U32, NULL }, [NFTA_NAT_FAMILY] = { U32, NULL },
	[NFTA_NAT_REG_ADDR_MIN] = { U32, NULL }, [NFTA_NAT_REG_ADDR_MAX] = { U32, NULL },
	[NFTA_NAT_REG_PROTO_MIN] = { U32, NULL }, [NFTA_NAT_REG_PROTO_MAX] = { U32, NULL },
	[NFTA_NAT_FLAGS] = { U32, NULL },
};
POLICY(nat_p, nat_r);

static const struct rule numgen_r[NFTA_NG_MAX + 1] = {
	[NFTA_NG_DREG] = { U32, NULL }, [NFTA_NG_MODULUS] = { U32, NULL }, [NFTA_NG_TYPE] = { U32, NULL },
	[NFTA_NG_OFFSET] = { U32, NULL }, [NFTA_NG_SET_NAME] = { STR, NULL }, [NFTA_NG_SET_ID] = { U32, NULL },
};
POLICY(numgen_p, numgen_r);

static const struct rule objref_r[NFTA_OBJREF_MAX + 1] = {
	[NFTA_OBJREF_IMM_TYPE] = { U32, NULL }, [NFTA_OBJREF_IMM_NAME] = { STR, NULL },
	[NFTA_OBJREF_SET_SREG] = { U32, NULL }, [NFTA_OBJREF_SET_NAME] = { STR, NULL },
	[NFTA_OBJREF_SET_ID] = { U32, NULL },
};
POLICY(objref_p, objref_r);

static const struct rule payload_r[NFTA_PAYLOAD_MAX + 1] = {
	[NFTA_PAYLOAD_DREG] = { U32, NULL }, [NFTA_PAYLOAD_BASE] = { U32, NULL },
	[NFTA_PAYLOAD_OFFSET] = { U32, NULL }, [NFTA_PAYLOAD_LEN] = { U32, NULL },
	[NFTA_PAYLOAD_SREG] = { U32, NULL }, [NFTA_PAYLOAD_CSUM_TYPE] = { U32, NULL },
	[NFTA_PAYLOAD_CSUM_OFFSET] = { U32, NULL }, [NFTA_PAYLOAD_CSUM_FLAGS] = { U32, NULL },
};
POLICY(payload_p, payload_r);

static const struct rule queue_r[NFTA_QUEUE_MAX + 1] = {
	[NFTA_QUEUE_NUM] = { U16, NULL }, [NFTA_QUEUE_TOTAL] = { U16, NULL },
	[NFTA_QUEUE_FLAGS] = { U16, NULL }, [NFTA_QUEUE_SREG_QNUM] = { U32, NULL },
};
POLICY(queue_p, queue_r);

static const struct rule quota_r[NFTA_QUOTA_MAX + 1] = {
	[NFTA_QUOTA_BYTES] = { U64, NULL }, [NFTA_QUOTA_FLAGS] = { U32, NULL },
	[NFTA_QUOTA_CONSUMED] = { U64, NULL },
};
POLICY(quota_p, quota_r);

static const struct rule range_r[NFTA_RANGE_MAX + 1] = {
	[NFTA_RANGE_SREG] = { U32, NULL }, [NFTA_RANGE_OP] = { U32, NULL },
	[NFTA_RANGE_FROM_DATA] = { VALUE, NULL }, [NFTA_RANGE_TO_DATA] = { VALUE, NULL },
};
POLICY(range_p, range_r);

static const struct rule redir_r[NFTA_REDIR_MAX + 1] = {
	[NFTA_REDIR_REG_PROTO_MIN] = { U32, NULL }, [NFTA_REDIR_REG_PROTO_MAX] = { U32, NULL },
	[NFTA_REDIR_FLAGS] = { U32, NULL },
};
POLICY(redir_p, redir_r);

static const struct rule reject_r[NFTA_REJECT_MAX + 1] = {
	[NFTA_REJECT_TYPE] = { U32, NULL }, [NFTA_REJECT_ICMP_CODE] = { U8, NULL },
};
POLICY(reject_p, reject_r);

static const struct rule rt_r[NFTA_RT_MAX + 1] = {
	[NFTA_RT_DREG] = { U32, NULL }, [NFTA_RT_KEY] = { U32, NULL },
};
POLICY(rt_p, rt_r);

static const struct rule socket_r[NFTA_SOCKET_MAX + 1] = {
	[NFTA_SOCKET_KEY] = { U32, NULL }, [NFTA_SOCKET_DREG] = { U32, NULL },
	[NFTA_SOCKET_LEVEL] = { U32, NULL },
};
POLICY(socket_p, socket_r);

static const struct rule target_r[NFTA_TARGET_MAX + 1] = {
	[NFTA_TARGET_NAME] = { NULSTR, NULL }, [NFTA_TARGET_REV] = { U32, NULL },
	[NFTA_TARGET_INFO] = { ANY, NULL },
};
POLICY(target_p, target_r);

static const struct rule tproxy_r[NFTA_TPROXY_MAX + 1] = {
	[NFTA_TPROXY_FAMILY] = { U32, NULL }, [NFTA_TPROXY_REG_ADDR] = { U32, NULL },
	[NFTA_TPROXY_REG_PORT] = { U32, NULL },
};
POLICY(tproxy_p, tproxy_r);

static const struct rule tunnel_r[NFTA_TUNNEL_MAX + 1] = {
	[NFTA_TUNNEL_KEY] = { U32, NULL }, [NFTA_TUNNEL_DREG] = { U32, NULL },
};
POLICY(tunnel_p, tunnel_r);

static const struct rule xfrm_r[NFTA_XFRM_MAX + 1] = {
	[NFTA_XFRM_DREG] = { U32, NULL }, [NFTA_XFRM_KEY] = { U32, NULL }, [NFTA_XFRM_DIR] = { U8, NULL },
	[NFTA_XFRM_SPNUM] = { U32, NULL },
};
POLICY(xfrm_p, xfrm_r);

/* Every expression libnftnl 1.2.4 knows (others it refuses by itself, without harm). osf
 * and synproxy are left out: 1.2.4 checks their attributes under the wrong numbers (its
 * own NFTNL_EXPR_* constants), so it exits on the kernel's own encoding. */
static const struct {
	const char *name;
	const struct policy *p;
} exprs[] = {
	{ "bitwise", &bitwise_p }, { "byteorder", &byteorder_p }, { "cmp", &cmp_p },
	{ "connlimit", &connlimit_p }, { "counter", &counter_p }, { "ct", &ct_p },
	{ "dup", &dup_p }, { "dynset", &dynset_p }, { "exthdr", &exthdr_p },
	{ "fib", &fib_p }, { "flow_offload", &flow_p }, { "fwd", &fwd_p },
	{ "hash", &hash_p }, { "immediate", &immediate_p }, { "last", &last_p },
	{ "limit", &limit_p }, { "log", &log_p }, { "lookup", &lookup_p },
	{ "masq", &masq_p }, { "match", &match_p }, { "meta", &meta_p },
	{ "nat", &nat_p }, { "notrack", &none_p }, { "numgen", &numgen_p },
	{ "objref", &objref_p }, { "payload", &payload_p }, { "queue", &queue_p },
	{ "quota", &quota_p }, { "range", &range_p }, { "redir", &redir_p },
	{ "reject", &reject_p }, { "rt", &rt_p }, { "socket", &socket_p },
	{ "target", &target_p }, { "tproxy", &tproxy_p }, { "tunnel", &tunnel_p },
	{ "xfrm", &xfrm_p },
};

static const struct rule table_r[NFTA_TABLE_MAX + 1] = {
	[NFTA_TABLE_NAME] = { STR, NULL }, [NFTA_TABLE_FLAGS] = { U32, NULL },
	[NFTA_TABLE_USE] = { U32, NULL }, [NFTA_TABLE_HANDLE] = { U64, NULL },
	[NFTA_TABLE_USERDATA] = { ANY, NULL }, [NFTA_TABLE_OWNER] = { U32, NULL },
};
POLICY(table_p, table_r);

/* a chain's devices: one NFTA_DEVICE_NAME each, the only nest whose attributes repeat */
static const struct rule devs_r[NFTA_DEVICE_MAX + 1] = {
	[NFTA_DEVICE_NAME] = { STR, NULL },
};
static const struct policy devs_p = { NFTA_DEVICE_MAX, true, devs_r };

static const struct rule hook_r[NFTA_HOOK_MAX + 1] = {
	[NFTA_HOOK_HOOKNUM] = { U32, NULL }, [NFTA_HOOK_PRIORITY] = { U32, NULL },
	[NFTA_HOOK_DEV] = { STR, NULL }, [NFTA_HOOK_DEVS] = { NEST, &devs_p },
};
POLICY(hook_p, hook_r);

static const struct rule chain_r[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_TABLE] = { STR, NULL }, [NFTA_CHAIN_HANDLE] = { U64, NULL },
	[NFTA_CHAIN_NAME] = { STR, NULL }, [NFTA_CHAIN_HOOK] = { NEST, &hook_p },
	[NFTA_CHAIN_POLICY] = { U32, NULL }, [NFTA_CHAIN_USE] = { U32, NULL },
	[NFTA_CHAIN_TYPE] = { STR, NULL }, [NFTA_CHAIN_COUNTERS] = { NEST, &counter_p },
	[NFTA_CHAIN_FLAGS] = { U32, NULL }, [NFTA_CHAIN_ID] = { U32, NULL },
	[NFTA_CHAIN_USERDATA] = { ANY, NULL },
};
POLICY(chain_p, chain_r);

static const struct rule compat_r[NFTA_RULE_COMPAT_MAX + 1] = {
	[NFTA_RULE_COMPAT_PROTO] = { U32, NULL }, [NFTA_RULE_COMPAT_FLAGS] = { U32, NULL },
};
POLICY(compat_p, compat_r);

static const struct rule rule_r[NFTA_RULE_MAX + 1] = {
	[NFTA_RULE_TABLE] = { STR, NULL }, [NFTA_RULE_CHAIN] = { STR, NULL },
	[NFTA_RULE_HANDLE] = { U64, NULL }, [NFTA_RULE_EXPRESSIONS] = { EXPRS, NULL },
	[NFTA_RULE_COMPAT] = { NEST, &compat_p }, [NFTA_RULE_POSITION] = { U64, NULL },
	[NFTA_RULE_USERDATA] = { ANY, NULL }, [NFTA_RULE_ID] = { U32, NULL },
	[NFTA_RULE_POSITION_ID] = { U32, NULL }, [NFTA_RULE_CHAIN_ID] = { U32, NULL },
};
POLICY(rule_p, rule_r);

static const struct rule field_r[NFTA_SET_FIELD_MAX + 1] = {
	[NFTA_SET_FIELD_LEN] = { U32, NULL },
};
POLICY(field_p, field_r);

static const struct rule desc_r[NFTA_SET_DESC_MAX + 1] = {
	[NFTA_SET_DESC_SIZE] = { U32, NULL }, [NFTA_SET_DESC_CONCAT] = { CONCAT, &field_p },
};
POLICY(desc_p, desc_r);

static const struct rule set_r[NFTA_SET_MAX + 1] = {
	[NFTA_SET_TABLE] = { STR, NULL }, [NFTA_SET_NAME] = { STR, NULL }, [NFTA_SET_FLAGS] = { U32, NULL },
	[NFTA_SET_KEY_TYPE] = { U32, NULL }, [NFTA_SET_KEY_LEN] = { U32, NULL },
	[NFTA_SET_DATA_TYPE] = { U32, NULL }, [NFTA_SET_DATA_LEN] = { U32, NULL },
	[NFTA_SET_POLICY] = { U32, NULL }, [NFTA_SET_DESC] = { NEST, &desc_p },
	[NFTA_SET_ID] = { U32, NULL }, [NFTA_SET_TIMEOUT] = { U64, NULL },
	[NFTA_SET_GC_INTERVAL] = { U32, NULL }, [NFTA_SET_USERDATA] = { ANY, NULL },
	[NFTA_SET_OBJ_TYPE] = { U32, NULL }, [NFTA_SET_HANDLE] = { U64, NULL },
	[NFTA_SET_EXPR] = { EXPR, NULL }, [NFTA_SET_EXPRESSIONS] = { EXPRS, NULL },
};
POLICY(set_p, set_r);

static const struct rule elem_r[NFTA_SET_ELEM_MAX + 1] = {
	[NFTA_SET_ELEM_KEY] = { VALUE, NULL }, [NFTA_SET_ELEM_DATA] = { DATA, NULL },
	[NFTA_SET_ELEM_FLAGS] = { U32, NULL }, [NFTA_SET_ELEM_TIMEOUT] = { U64, NULL },
	[NFTA_SET_ELEM_EXPIRATION] = { U64, NULL }, [NFTA_SET_ELEM_USERDATA] = { ANY, NULL },
	[NFTA_SET_ELEM_EXPR] = { EXPR, NULL }, [NFTA_SET_ELEM_OBJREF] = { STR, NULL },
	[NFTA_SET_ELEM_KEY_END] = { VALUE, NULL }, [NFTA_SET_ELEM_EXPRESSIONS] = { EXPRS, NULL },
};
POLICY(elem_p, elem_r);

static const struct rule elems_r[NFTA_SET_ELEM_LIST_MAX + 1] = {
	[NFTA_SET_ELEM_LIST_TABLE] = { STR, NULL }, [NFTA_SET_ELEM_LIST_SET] = { STR, NULL },
	[NFTA_SET_ELEM_LIST_ELEMENTS] = { LIST, &elem_p },
	[NFTA_SET_ELEM_LIST_SET_ID] = { U32, NULL },
};
POLICY(elems_p, elems_r);

/* NFTA_OBJ_DATA is checked by the object's type (counters only), apart. */
static const struct rule obj_r[NFTA_OBJ_MAX + 1] = {
	[NFTA_OBJ_TABLE] = { STR, NULL }, [NFTA_OBJ_NAME] = { STR, NULL }, [NFTA_OBJ_TYPE] = { U32, NULL },
	[NFTA_OBJ_DATA] = { ANY, NULL }, [NFTA_OBJ_USE] = { U32, NULL }, [NFTA_OBJ_HANDLE] = { U64, NULL },
	[NFTA_OBJ_USERDATA] = { ANY, NULL },
};
POLICY(obj_p, obj_r);

/* ---- the walk ---- */

/* Where the walk stands when it refuses: the types of the attributes from the message down
 * to the bad one (recorded as the walk unwinds, so innermost first), and the innermost
 * expression's name. */
#define MAX_PATH (3 * MAX_DEPTH + 4)

struct ck {
	const char *why;
	const char *expr;
	uint16_t path[MAX_PATH];
	int npath;
};

static int bad(struct ck *c, int err, const char *why)
{
	c->why = why;
	return err;
}

/* Called by each nest as the error passes out through attribute a. */
static int at(struct ck *c, const struct nlattr *a, int err)
{
	if (c->npath < MAX_PATH)
		c->path[c->npath++] = a->nla_type & NLA_TYPE_MASK;
	return err;
}

/* The attributes in [p, p + len): 1 with *ret, 0 at the end, -EBADMSG for bytes that are
 * no whole attribute. */
static int next_attr(const uint8_t **p, size_t *len, const struct nlattr **ret)
{
	const struct nlattr *a = (const void *)*p;
	size_t step;

	if (!*len)
		return 0;
	if (*len < sizeof(*a) || a->nla_len < sizeof(*a) || a->nla_len > *len)
		return -EBADMSG;
	step = NLA_ALIGN((size_t)a->nla_len);
	if (step > *len)
		step = *len;
	*p += step;
	*len -= step;
	*ret = a;
	return 1;
}

static const uint8_t *payload(const struct nlattr *a)
{
	return (const uint8_t *)a + NLA_HDRLEN;
}

static size_t payload_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static uint16_t attr_type(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

/* The attribute of type t directly in [p, p + len), or NULL; the region is well-formed. */
static const struct nlattr *find(const uint8_t *p, size_t len, uint16_t t)
{
	const struct nlattr *a;

	while (next_attr(&p, &len, &a) > 0)
		if (attr_type(a) == t)
			return a;
	return NULL;
}

static int check_attrs(struct ck *c, const uint8_t *p, size_t len, const struct policy *pol,
		       int depth);

/* Exactly one of a value or a verdict, as the kernel writes them. libnftnl reads a verdict
 * into an array it never clears, so the code must be there, and the chain for a jump or
 * goto; it would copy a jump's chain name for a key and never free it. */
static int check_data(struct ck *c, const struct nlattr *a, bool verdict_ok, int depth)
{
	const struct nlattr *value, *v, *code;
	uint32_t verdict;
	int r;

	r = check_attrs(c, payload(a), payload_len(a), &data_p, depth);
	if (r < 0)
		return r;
	value = find(payload(a), payload_len(a), NFTA_DATA_VALUE);
	v = find(payload(a), payload_len(a), NFTA_DATA_VERDICT);
	if (!value == !v)
		return bad(c, -EBADMSG, "holds a datum that is not one value or one verdict");
	if (value && (!payload_len(value) || payload_len(value) > NFT_DATA_VALUE_MAXLEN))
		return bad(c, -EBADMSG, "holds a value of an impossible length");
	if (value)
		return 0;
	if (!verdict_ok)
		return bad(c, -EBADMSG, "holds a verdict where a value belongs");
	code = find(payload(v), payload_len(v), NFTA_VERDICT_CODE);
	if (!code)
		return bad(c, -EBADMSG, "holds a verdict without its code");
	memcpy(&verdict, payload(code), sizeof(verdict));
	verdict = ntohl(verdict);
	if ((verdict == (uint32_t)NFT_JUMP || verdict == (uint32_t)NFT_GOTO) &&
	    !find(payload(v), payload_len(v), NFTA_VERDICT_CHAIN))
		return bad(c, -EBADMSG, "holds a jump without the chain it jumps to");
	return 0;
}

/* The entry of exprs[] for the name in expression attributes [p, p + len), or -1. */
static int expr_index(const uint8_t *p, size_t len)
{
	const struct nlattr *name = find(p, len, NFTA_EXPR_NAME);

	if (!name || !payload_len(name) || payload(name)[payload_len(name) - 1])
		return -1;
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
		if (!strcmp((const char *)payload(name), exprs[i].name))
			return (int)i;
	return -1;
}

/* One expression (a list member, or a set's or dynset's NFTA_*_EXPR): its name and data
 * once each, and the data as the policy of that name says. */
static int check_expr(struct ck *c, const struct nlattr *a, int depth)
{
	const uint8_t *p = payload(a);
	size_t len = payload_len(a);
	const struct nlattr *data;
	int r, i;

	if (len && len < NLA_HDRLEN)
		return bad(c, -EBADMSG, "holds an expression that is no attribute");
	r = check_attrs(c, p, len, &expr_p, depth);
	i = expr_index(p, len);
	if (r < 0 || i < 0) {
		if (i >= 0 && !c->expr)
			c->expr = exprs[i].name;
		if (r < 0)
			return r;
		if (!find(p, len, NFTA_EXPR_NAME))
			return bad(c, -EBADMSG, "holds an expression without a name");
		return bad(c, -EOPNOTSUPP, "holds an expression that nftgate cannot read");
	}
	data = find(p, len, NFTA_EXPR_DATA);
	if (!data)
		return 0;
	r = check_attrs(c, payload(data), payload_len(data), exprs[i].p, depth);
	if (r < 0 && !c->expr)
		c->expr = exprs[i].name;
	return r < 0 ? at(c, data, r) : 0;
}

/* The members of a list, each an NFTA_LIST_ELEM: expressions (EXPRS) or nests of rl->sub
 * (LIST, CONCAT, whose fields libnftnl keeps in a fixed array). */
static int check_list(struct ck *c, const struct nlattr *a, const struct rule *rl, int depth)
{
	const uint8_t *p = payload(a);
	size_t len = payload_len(a), fields = 0;
	const struct nlattr *el;
	int r;

	while ((r = next_attr(&p, &len, &el)) > 0) {
		if (attr_type(el) != NFTA_LIST_ELEM)
			return at(c, el, bad(c, -EBADMSG, "holds a list with a member that is "
					     "not one"));
		if (rl->kind == EXPRS)
			r = check_expr(c, el, depth);
		else
			r = check_attrs(c, payload(el), payload_len(el), rl->sub, depth);
		if (r < 0)
			return at(c, el, r);
		if (rl->kind == CONCAT) {
			const uint8_t *q = payload(el);
			size_t qlen = payload_len(el);
			const struct nlattr *f;

			while (next_attr(&q, &qlen, &f) > 0)
				fields += attr_type(f) == NFTA_SET_FIELD_LEN;
			if (fields > MAX_CONCAT_FIELDS)
				return bad(c, -EBADMSG, "concatenates more fields than a key holds");
		}
	}
	return r < 0 ? bad(c, r, "holds a list that is cut short") : 0;
}

static int check_one(struct ck *c, const struct nlattr *a, const struct rule *rl, int depth)
{
	static const size_t width[] = { [U8] = 1, [U16] = 2, [U32] = 4, [U64] = 8 };
	size_t len = payload_len(a);

	switch (rl->kind) {
	case U8: case U16: case U32: case U64:
		if (len != width[rl->kind])
			return bad(c, -EBADMSG, "holds a number of the wrong size");
		return 0;
	case STR:
		if (!len)
			return bad(c, -EBADMSG, "holds an empty string");
		return 0;
	case NULSTR:
		if (!len || payload(a)[len - 1])
			return bad(c, -EBADMSG, "holds a name without its NUL");
		return 0;
	case ANY:
		return 0;
	}
	/* the rest nest attributes: empty, or at least one header (as libmnl checks) */
	if (len && len < NLA_HDRLEN)
		return bad(c, -EBADMSG, "holds a nested attribute too short to hold one");
	if (depth >= MAX_DEPTH)
		return bad(c, -EBADMSG, "nests deeper than nftgate reads");
	switch (rl->kind) {
	case NEST:
		return rl->sub ? check_attrs(c, payload(a), len, rl->sub, depth + 1) : 0;
	case VALUE:
	case DATA:
		return check_data(c, a, rl->kind == DATA, depth + 1);
	case EXPR:
		return check_expr(c, a, depth + 1);
	default: /* EXPRS, LIST, CONCAT */
		return check_list(c, a, rl, depth + 1);
	}
}

static int check_attrs(struct ck *c, const uint8_t *p, size_t len, const struct policy *pol,
		       int depth)
{
	const struct nlattr *a;
	uint64_t seen = 0;
	int r;

	while ((r = next_attr(&p, &len, &a)) > 0) {
		uint16_t t = attr_type(a);

		/* unknown to libnftnl too, which skips it; but inside a set element libnftnl
		 * 1.2.4 bounds the type by NFTA_SET_MAX instead of NFTA_SET_ELEM_MAX and
		 * writes past its attribute table on the stack (found by fuzzing:
		 * tests/fuzz/corpus-record/regress-elem-attr-type) */
		if (t > pol->max && pol == &elem_p)
			return at(c, a, bad(c, -EBADMSG, "holds a set element attribute of "
					    "unknown type"));
		if (t > pol->max)
			continue;
		if (!pol->many && (seen & (1ull << t)))
			return at(c, a, bad(c, -EBADMSG, "holds an attribute twice"));
		seen |= 1ull << t;
		r = check_one(c, a, &pol->r[t], depth);
		if (r < 0)
			return at(c, a, r);
	}
	return r < 0 ? bad(c, r, "holds bytes that are no attribute") : 0;
}

/* Objects: the data is read by the object's type, and nftgate keeps counters only. */
static int check_obj(struct ck *c, const uint8_t *p, size_t len)
{
	const struct nlattr *type, *data;
	uint32_t t;
	int r;

	r = check_attrs(c, p, len, &obj_p, 0);
	if (r < 0)
		return r;
	data = find(p, len, NFTA_OBJ_DATA);
	if (!data)
		return 0;
	type = find(p, len, NFTA_OBJ_TYPE);
	if (!type)
		return bad(c, -EBADMSG, "holds object data without the object's type");
	memcpy(&t, payload(type), sizeof(t));
	if (ntohl(t) != NFT_OBJECT_COUNTER)
		return bad(c, -EOPNOTSUPP, "is a stateful object of a type nftgate does not "
			   "replay (only counters)");
	if (payload_len(data) && payload_len(data) < NLA_HDRLEN)
		return bad(c, -EBADMSG, "holds object data that is no attribute");
	r = check_attrs(c, payload(data), payload_len(data), &counter_p, 1);
	return r < 0 ? at(c, data, r) : 0;
}

/* The reason, and where: "holds ..., at attribute 4.1.2 of expression reject" (the
 * types of nf_tables.h, outermost first). */
static const char *describe(const struct ck *c)
{
	static _Thread_local char text[256];
	size_t off;

	if (!c->npath)
		return c->why;
	off = (size_t)snprintf(text, sizeof(text), "%s, at attribute %u", c->why,
			       c->path[c->npath - 1]);
	for (int i = c->npath - 2; i >= 0 && off < sizeof(text); i--)
		off += (size_t)snprintf(text + off, sizeof(text) - off, ".%u", c->path[i]);
	if (c->expr && off < sizeof(text))
		snprintf(text + off, sizeof(text) - off, " of expression %s", c->expr);
	return text;
}

int msg_check(const struct nlmsghdr *nlh, const char **why)
{
	struct ck c = { .why = NULL };
	size_t hdr = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct nfgenmsg)));
	const uint8_t *p = (const uint8_t *)nlh + hdr;
	const struct policy *pol = NULL;
	size_t len;
	int r;

	if (nlh->nlmsg_len < hdr) {
		r = bad(&c, -EBADMSG, "is too short for its headers");
		goto out;
	}
	len = nlh->nlmsg_len - hdr;
	switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
	case NFT_MSG_NEWTABLE: pol = &table_p; break;
	case NFT_MSG_NEWCHAIN: pol = &chain_p; break;
	case NFT_MSG_NEWSET: pol = &set_p; break;
	case NFT_MSG_NEWSETELEM: pol = &elems_p; break;
	case NFT_MSG_NEWRULE: pol = &rule_p; break;
	case NFT_MSG_NEWOBJ:
		r = check_obj(&c, p, len);
		goto out;
	default:
		r = bad(&c, -EOPNOTSUPP, "has a message type nftgate does not replay");
		goto out;
	}
	r = check_attrs(&c, p, len, pol, 0);
out:
	if (r < 0 && why)
		*why = describe(&c);
	return r;
}
