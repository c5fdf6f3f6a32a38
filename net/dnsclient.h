// dnsclient.h: the built-in DNS client, Go 1.19's pure-Go resolver (net/dnsclient_unix.go,
// net/dnsconfig_unix.go) for fibers. Internal to //net. It reads no hosts file and
// keeps no cache: //net's Resolver consults /etc/hosts first and calls these.
//
// Lookup flow (as Go): the name must pass IsDomainName (else "lookup NAME: no such
// host"); each candidate of NameList() is tried in turn; each candidate is tried for
// `attempts` rounds over the servers (starting at a rotating offset with `rotate`).
// One try: a UDP socket connected to the server sends the query and reads datagrams
// until one answers it (same id, QR set, same question; others are dropped as forgery
// attempts), then an answer with TC set is asked again over TCP (2-byte length prefix).
// Each try ends at min(deadline, now + timeout). Answers are judged as Go's
// checkHeader/skipToAnswer: NXDOMAIN stops everything ("no such host", not found);
// SERVFAIL is "server misbehaving" (temporary), another rcode "server misbehaving";
// NOERROR without AA, RA or answers is "lame referral"; an answer without a record of
// the asked type is "no such host" (not found, stops the candidate). Other failures
// (timeouts, socket errors) go on to the next server.
//
// Errors are Go's DNSError texts (net/errors.h MakeDNSError), as Go 1.19 prints them
// (tests/go_observed/dns.out):
//   lookup NAME on SERVER: no such host          kNotFound, not_found
//   lookup NAME on SERVER: server misbehaving    kUnknown, temporary (SERVFAIL)
//   lookup NAME on SERVER: lame referral         kUnknown
//   lookup NAME on SERVER: read udp L->S: i/o timeout   one try timed out (timeout)
//   lookup NAME: i/o timeout                     kDeadlineExceeded: `deadline` passed
//                                                or ctx's deadline did
//   lookup NAME: operation was canceled          kCancelled: ctx was canceled
//   lookup NAME: no such host                    not a domain name
// NAME is the name as the caller gave it (PTR: the in-addr.arpa/ip6.arpa name; SRV:
// "_service._proto.name").
//
// Cancellation: while a lookup runs, a watcher fiber waits for ctx.Done() and expires
// the deadlines of the lookup's in-flight sockets (SetDeadline(-1): net/dial.cc's
// approach), so a blocked read or connect wakes at once. A lookup that ends after ctx
// or the deadline did reports ctx's error, as Go's lookupIPAddr (which races the
// lookup against ctx.Done()).
//
// Safety: only ever sends to the servers of the DnsConfig it is given; tests give it
// a fake server on loopback. Entry points are fiber-only (kFailedPrecondition "not
// called from a fiber" elsewhere); they never block a thread and start no thread.
// Thread safety: any fiber; a DnsConfig may be shared (rotate's counter is atomic).
#ifndef GONET_NET_DNSCLIENT_H_
#define GONET_NET_DNSCLIENT_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fiber/context.h"
#include "net/addr.h"

namespace gonet::net_internal {

// Go's dnsConfig (the parts the client uses).
struct DnsConfig {
  std::vector<std::string> servers;  // "ip:53" or "[ip]:53"; at most 3 from a file
  std::vector<std::string> search;   // rooted suffixes: "example.com."
  int ndots = 1;                     // 0..15
  absl::Duration timeout = absl::Seconds(5);  // per try; 1..30 s
  int attempts = 2;                  // rounds over the servers; 1..5
  bool rotate = false;
  bool use_tcp = false;              // options use-vc / usevc / tcp
  bool single_request = false;       // A and AAAA one after the other
  absl::Status err;                  // why the file could not be read (defaults used)
  // rotate's offset, shared by copies of the config (Go: dnsConfig.soffset).
  std::shared_ptr<std::atomic<uint32_t>> offset = std::make_shared<std::atomic<uint32_t>>(0);
};

// resolv.conf text -> config. nameserver (IP literals only, at most 3, as "ip:53"),
// domain (one-element search list), search (the last line wins), options ndots:N
// (0..15), timeout:N (1..30 s), attempts:N (1..5), rotate, single-request(-reopen),
// use-vc/usevc/tcp; other options are ignored. '#' and ';' lines are comments. No
// nameserver -> Go's defaults "127.0.0.1:53" and "[::1]:53". No search/domain -> an
// empty search list (Go would use the domain of the host name; gonet leaves that out).
// Differences from Go 1.19: timeout and attempts are capped (glibc's 30 s and 5).
DnsConfig ParseResolvConf(std::string_view text);
// The file at `path` parsed; a file that cannot be read gives the defaults and `err`
// set (Go's dnsConfig.err). Reads the file on the calling thread (a small local file).
DnsConfig ReadResolvConf(const std::string& path);

// Go's dnsConfig.nameList: the rooted names to query for `name`, in order. Rooted
// names as they are; names with at least ndots dots first as they are, then with each
// search suffix; others with each suffix first, then as they are. Suffixed names over
// 254 bytes are left out; empty for a name over 254 bytes or under ".onion".
std::vector<std::string> NameList(const DnsConfig& cfg, std::string_view name);

// A and/or AAAA records of `host` (family AF_UNSPEC: both, in parallel unless
// single_request; AF_INET: A; AF_INET6: AAAA). Addresses of the answer section, CNAME
// chains included (Go takes every A/AAAA record of the answer); A results first, then
// AAAA, unsorted (the caller sorts). Never empty on success.
absl::StatusOr<std::vector<IPAddr>> DnsLookupIP(const Context& ctx, absl::Time deadline,
                                                const DnsConfig& cfg, std::string_view host,
                                                int family);

// Go 1.19's LookupCNAME through DNS: the owner name of the first A/AAAA record of the
// answer to the A and AAAA queries (so the end of a CNAME chain), rooted.
absl::StatusOr<std::string> DnsLookupCNAME(const Context& ctx, absl::Time deadline,
                                           const DnsConfig& cfg, std::string_view host);

struct SRVRecord {
  std::string target;  // rooted
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
};
struct SRVResult {
  std::string cname;  // the owner name of the first SRV record, rooted
  std::vector<SRVRecord> records;
};
// SRV records of "_service._proto.name" (just `name` when both are empty), sorted as
// Go's byPriorityWeight (RFC 2782): priority ascending, weighted random order within
// a priority.
absl::StatusOr<SRVResult> DnsLookupSRV(const Context& ctx, absl::Time deadline,
                                       const DnsConfig& cfg, std::string_view service,
                                       std::string_view proto, std::string_view name);

// PTR records of `ip` (in-addr.arpa or ip6.arpa), rooted names in answer order.
absl::StatusOr<std::vector<std::string>> DnsLookupPTR(const Context& ctx, absl::Time deadline,
                                                      const DnsConfig& cfg, const IPAddr& ip);

// Go's reverseaddr: "4.3.2.1.in-addr.arpa." / "b.a.9.8....ip6.arpa.".
std::string ReverseAddr(const IPAddr& ip);

// Go's byPriorityWeight.sort: by priority, then within each priority a weighted
// random order (each next record picked with probability weight / remaining sum).
void SortSRV(std::vector<SRVRecord>* records);

}  // namespace gonet::net_internal

#endif  // GONET_NET_DNSCLIENT_H_
