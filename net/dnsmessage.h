// dnsmessage.h: DNS messages (RFC 1035) for the built-in DNS client: Go's
// golang.org/x/net/dns/dnsmessage, the subset dnsclient_unix.go uses, re-made in our
// own code. Internal to //net. Pure code, no I/O.
//
// Building: one question per query, RD set, no EDNS. Parsing: the header, the question
// section, and the answer and authority sections; A, AAAA, CNAME, SRV and PTR records
// are decoded, every other type is skipped by its RDLENGTH; the additional section is
// not read. Names come out in presentation form, rooted ("www.example.com."), their
// label bytes copied as they are (no escaping: callers that print or use a name check
// it with IsDomainName).
//
// The input is hostile: the parser never reads out of bounds, never loops and never
// crashes; it returns an absl::Status (kInvalidArgument, "dnsmessage: ...") for a
// truncated header or section, counts that overrun the packet, an RDLENGTH past the
// end or not matching the record's data, a compression pointer that does not point
// strictly backwards (so to itself, forwards and loops are all rejected), more than
// 10 pointers in one name, a label over 63 bytes, a name over 255 bytes on the wire,
// and the reserved label types 0x40 and 0x80.
//
// Thread safety: all functions are pure.
#ifndef GONET_NET_DNSMESSAGE_H_
#define GONET_NET_DNSMESSAGE_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gonet::net_internal::dns {

// RR types (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNS = 2;
inline constexpr uint16_t kTypeCNAME = 5;
inline constexpr uint16_t kTypeSOA = 6;
inline constexpr uint16_t kTypePTR = 12;
inline constexpr uint16_t kTypeMX = 15;
inline constexpr uint16_t kTypeTXT = 16;
inline constexpr uint16_t kTypeAAAA = 28;
inline constexpr uint16_t kTypeSRV = 33;
inline constexpr uint16_t kClassINET = 1;

// RCODEs (RFC 1035 §4.1.1).
inline constexpr uint8_t kRCodeSuccess = 0;
inline constexpr uint8_t kRCodeFormatError = 1;
inline constexpr uint8_t kRCodeServerFailure = 2;
inline constexpr uint8_t kRCodeNameError = 3;  // NXDOMAIN
inline constexpr uint8_t kRCodeNotImplemented = 4;
inline constexpr uint8_t kRCodeRefused = 5;

inline constexpr size_t kHeaderLen = 12;
inline constexpr size_t kMaxNameWireLen = 255;
inline constexpr size_t kMaxLabelLen = 63;
inline constexpr int kMaxPointers = 10;

struct Header {
  uint16_t id = 0;
  bool response = false;             // QR
  uint8_t opcode = 0;
  bool authoritative = false;        // AA
  bool truncated = false;            // TC
  bool recursion_desired = false;    // RD
  bool recursion_available = false;  // RA
  uint8_t rcode = 0;
};

struct Question {
  std::string name;  // rooted: "example.com."
  uint16_t type = 0;
  uint16_t cls = kClassINET;
};

// One resource record. Which data fields are set depends on `type`:
//   A, AAAA     ip (4 or 16 bytes, ip_len)
//   CNAME, PTR  target
//   SRV         priority, weight, port, target
//   others      nothing (skipped by RDLENGTH)
struct Resource {
  std::string name;
  uint16_t type = 0;
  uint16_t cls = 0;
  uint32_t ttl = 0;
  std::array<uint8_t, 16> ip{};
  uint8_t ip_len = 0;
  std::string target;
  uint16_t priority = 0;
  uint16_t weight = 0;
  uint16_t port = 0;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Resource> answers;
  std::vector<Resource> authorities;
};

// A query for `name` (presentation form; rooted or not, a trailing dot is implied)
// with RD set. Errors: an empty label, a label over 63 bytes, a name over 255 bytes.
absl::StatusOr<std::string> BuildQuery(uint16_t id, std::string_view name, uint16_t type,
                                       uint16_t cls = kClassINET);

// Serializes any message (no compression); for tests and fake servers. Same name
// rules as BuildQuery; A/AAAA need ip_len 4/16.
absl::StatusOr<std::string> BuildMessage(const Message& m);

// Parses `packet` as described at the top.
absl::StatusOr<Message> ParseMessage(std::string_view packet);

// Go's checkResponse: `resp` answers query `id` for question `q` (QR set, same id,
// exactly one question with the same name, ASCII case-insensitive, type and class).
// Errors (kInvalidArgument): "dnsmessage: not a response", "answer for another
// transaction id", "answer for another question".
absl::Status CheckResponse(const Message& resp, uint16_t id, const Question& q);

// ASCII case-insensitive name equality (Go's equalASCIIName).
bool EqualNames(std::string_view a, std::string_view b);

}  // namespace gonet::net_internal::dns

#endif  // GONET_NET_DNSMESSAGE_H_
