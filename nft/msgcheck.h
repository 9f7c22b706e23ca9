/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which nf_tables messages may be handed to libnftnl's parsers. libnftnl 1.2.4 trusts what
 * it parses: an attribute of another size than its type makes it exit() the process
 * (abi_breakage()), a missing expression name or verdict code is dereferenced, a short
 * integer is read past its end, a long concatenation overflows its field array, and of an
 * attribute given twice it validates each but keeps the last. Every stored message (a
 * snapshot file, the committed record, a dump) is checked here, against the attribute types
 * of the kernel's ABI (each expression's own, by its name), before libnftnl sees it.
 * Strings need not end in a NUL (the ABI's NLA_STRING) except the names libnftnl requires
 * it of: the buffer holding the message must be followed by one.
 */
#ifndef NFTGATE_NFT_MSGCHECK_H
#define NFTGATE_NFT_MSGCHECK_H

struct nlmsghdr;

/* nlh is a whole message of nlh->nlmsg_len bytes: NEWTABLE, NEWCHAIN, NEWOBJ, NEWSET,
 * NEWSETELEM or NEWRULE. Returns 0 when libnftnl can parse it safely; -EBADMSG when it is
 * malformed (an attribute of the wrong size or given twice, an empty string, a missing
 * expression name or verdict code, bytes that are no attribute); -EOPNOTSUPP for what this
 * check does not know and so refuses (another message type, an object other than a
 * counter, an expression libnftnl 1.2.4 misreads). On failure *why (when not NULL) says
 * which and where, in words that follow "message N ...": the attribute types from the
 * message down to the bad one, and the expression it is in ("holds a number of the wrong
 * size, at attribute 4.1.2.1 of expression meta"). The text stays valid until the next
 * msg_check() in the same thread. */
int msg_check(const struct nlmsghdr *nlh, const char **why);

#endif
