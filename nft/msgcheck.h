/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which nf_tables messages may be handed to libnftnl's parsers. libnftnl 1.2.4 trusts what
 * it parses: an attribute of another size than its type makes it exit() the process
 * (abi_breakage()), a missing expression name or verdict code is dereferenced, a short
 * integer is read past its end, a long concatenation overflows its field array. Every
 * stored message (a snapshot file, the committed record, a dump) is checked here, against
 * the attribute types of the kernel's ABI, before libnftnl sees it. Strings need not end in
 * a NUL (the ABI's NLA_STRING): the buffer holding the message must be followed by one.
 */
#ifndef NFTGATE_NFT_MSGCHECK_H
#define NFTGATE_NFT_MSGCHECK_H

struct nlmsghdr;

/* nlh is a whole message of nlh->nlmsg_len bytes: NEWTABLE, NEWCHAIN, NEWOBJ, NEWSET,
 * NEWSETELEM or NEWRULE. Returns 0 when libnftnl can parse it safely; -EBADMSG when it is
 * malformed (an attribute of the wrong size, an empty string, a missing expression name
 * or verdict code, bytes that are no attribute); -EOPNOTSUPP for what this check does
 * not know and so refuses (another message type, an object other than a counter, an
 * expression libnftnl 1.2.4 misreads). On failure *why (when not NULL) says which, in
 * words that follow "message N ...". */
int msg_check(const struct nlmsghdr *nlh, const char **why);

#endif
