#include "net/dnsmessage.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace gonet::net_internal::dns {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// Header: id 0x1234, QR RD RA, rcode 0, the given counts.
std::string Hdr(int qd, int an, int ns = 0, int flags_lo = 0x80) {
  return Bytes({0x12, 0x34, 0x81, flags_lo, 0, qd, 0, an, 0, ns, 0, 0});
}

void ExpectRejected(const std::string& packet, const std::string& what) {
  absl::StatusOr<Message> m = ParseMessage(packet);
  ASSERT_FALSE(m.ok()) << what;
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << what;
  EXPECT_NE(std::string(m.status().message()).find(what), std::string::npos) << m.status();
}

TEST(DnsMessage, QueryRoundTrip) {
  auto q = BuildQuery(0xBEEF, "www.Example.com", kTypeAAAA);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->substr(0, 12), Bytes({0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}));
  auto m = ParseMessage(*q);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->header.id, 0xBEEF);
  EXPECT_TRUE(m->header.recursion_desired);
  EXPECT_FALSE(m->header.response);
  ASSERT_EQ(m->questions.size(), 1u);
  EXPECT_EQ(m->questions[0].name, "www.Example.com.");
  EXPECT_EQ(m->questions[0].type, kTypeAAAA);
  EXPECT_EQ(m->questions[0].cls, kClassINET);
}

TEST(DnsMessage, BuildRejectsBadNames) {
  EXPECT_FALSE(BuildQuery(1, "a..b", kTypeA).ok());
  EXPECT_FALSE(BuildQuery(1, "", kTypeA).ok());
  EXPECT_FALSE(BuildQuery(1, std::string(64, 'a') + ".com", kTypeA).ok());
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(60, 'a') + ".";
  EXPECT_FALSE(BuildQuery(1, long_name, kTypeA).ok());
  EXPECT_TRUE(BuildQuery(1, ".", kTypeA).ok());
}

TEST(DnsMessage, ParsesAllRecordTypesWithCompression) {
  Message m;
  m.header = {.id = 7, .response = true, .authoritative = true, .truncated = true,
              .recursion_desired = true, .recursion_available = true, .rcode = 0};
  m.questions.push_back({"a.example.", kTypeA, kClassINET});
  Resource a{.name = "a.example.", .type = kTypeA, .cls = kClassINET, .ttl = 60};
  a.ip = {10, 0, 0, 1};
  a.ip_len = 4;
  Resource aaaa{.name = "a.example.", .type = kTypeAAAA, .cls = kClassINET};
  aaaa.ip[15] = 1;
  aaaa.ip_len = 16;
  Resource cname{.name = "b.example.", .type = kTypeCNAME, .cls = kClassINET, .target = "a.example."};
  Resource ptr{.name = "1.0.0.10.in-addr.arpa.", .type = kTypePTR, .cls = kClassINET,
               .target = "a.example."};
  Resource srv{.name = "_x._tcp.example.", .type = kTypeSRV, .cls = kClassINET,
               .target = "t.example.", .priority = 1, .weight = 2, .port = 3};
  Resource txt{.name = "a.example.", .type = kTypeTXT, .cls = kClassINET};
  m.answers = {a, aaaa, cname, ptr, srv, txt};
  m.authorities = {a};
  auto wire = BuildMessage(m);
  ASSERT_TRUE(wire.ok()) << wire.status();
  auto p = ParseMessage(*wire);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->header.response && p->header.authoritative && p->header.truncated &&
              p->header.recursion_available);
  ASSERT_EQ(p->answers.size(), 6u);
  EXPECT_EQ(p->answers[0].ip_len, 4);
  EXPECT_EQ(p->answers[0].ip[3], 1);
  EXPECT_EQ(p->answers[0].ttl, 60u);
  EXPECT_EQ(p->answers[1].ip_len, 16);
  EXPECT_EQ(p->answers[2].target, "a.example.");
  EXPECT_EQ(p->answers[3].target, "a.example.");
  EXPECT_EQ(p->answers[4].target, "t.example.");
  EXPECT_EQ(p->answers[4].priority, 1);
  EXPECT_EQ(p->answers[4].weight, 2);
  EXPECT_EQ(p->answers[4].port, 3);
  EXPECT_EQ(p->answers[5].type, kTypeTXT);
  ASSERT_EQ(p->authorities.size(), 1u);

  // Hand-made compression: the answer's name points at the question's (offset 12),
  // and its CNAME target is "www" + a pointer into the question name.
  std::string c = Hdr(1, 1) + Bytes({1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1}) +
                  Bytes({0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 0, 0, 6, 3, 'w', 'w', 'w', 0xC0, 14});
  auto pc = ParseMessage(c);
  ASSERT_TRUE(pc.ok()) << pc.status();
  EXPECT_EQ(pc->answers[0].name, "a.example.");
  EXPECT_EQ(pc->answers[0].target, "www.example.");
}

const std::string kQuestion = Bytes({1, 'a', 0, 0, 1, 0, 1});  // "a." A IN

TEST(DnsMessage, RejectsTruncatedHeader) {
  ExpectRejected("", "truncated header");
  ExpectRejected(Hdr(0, 0).substr(0, 11), "truncated header");
}

TEST(DnsMessage, RejectsCountsOverrunningThePacket) {
  ExpectRejected(Hdr(1, 0), "counts overrun");
  ExpectRejected(Hdr(1, 3) + kQuestion, "counts overrun");
  ExpectRejected(Hdr(0xFF, 0xFF) + kQuestion, "counts overrun");
  // Counts that fit the size check but not the content.
  ExpectRejected(Hdr(2, 0) + kQuestion + Bytes({1, 'a', 0}), "overruns");
}

TEST(DnsMessage, RejectsPointerToItself) {
  ExpectRejected(Hdr(1, 0) + Bytes({0xC0, 12, 0, 1, 0, 1}), "backwards");
}

TEST(DnsMessage, RejectsForwardPointer) {
  ExpectRejected(Hdr(1, 0) + Bytes({0xC0, 14, 1, 'a', 0, 0, 1, 0, 1}), "backwards");
}

TEST(DnsMessage, RejectsPointerLoop) {
  // Question name "a" at 12, then a pointer back to 12: 12 -> "a" -> ptr(12) -> ...
  ExpectRejected(Hdr(1, 0) + Bytes({1, 'a', 0xC0, 12, 0, 1, 0, 1}), "backwards");
  // Two names pointing at each other (the second name's pointer to the first is fine,
  // the first's pointer to the second is forward).
  ExpectRejected(Hdr(2, 0) + Bytes({0xC0, 18, 0, 1, 0, 1, 0xC0, 12, 0, 1, 0, 1}), "backwards");
}

TEST(DnsMessage, RejectsTooManyPointers) {
  // An unknown record whose rdata holds "a." and then a chain of 11 pointers, each to
  // the one before; a second record's name points at the last: 12 pointers in all.
  std::string rdata = Bytes({1, 'a', 0});
  const size_t base = 12 + 11;  // header + the first record's fixed part
  size_t prev = base;
  for (int i = 0; i < 11; ++i) {
    size_t here = base + rdata.size();
    rdata += Bytes({0xC0, static_cast<int>(prev)});
    prev = here;
  }
  std::string wrapped =
      Hdr(0, 2) + Bytes({0, 0, 16, 0, 1, 0, 0, 0, 0, 0, static_cast<int>(rdata.size())}) + rdata +
      Bytes({0xC0, static_cast<int>(prev), 0, 16, 0, 1, 0, 0, 0, 0, 0, 0});
  ExpectRejected(wrapped, "too many compression pointers");
}

TEST(DnsMessage, RejectsLongNames) {
  std::string name;
  for (int i = 0; i < 5; ++i) {
    name.push_back(60);
    name += std::string(60, 'a');
  }
  name.push_back(0);  // 5 * 61 + 1 = 306 bytes on the wire
  ExpectRejected(Hdr(1, 0) + name + Bytes({0, 1, 0, 1}), "longer than 255");
  // The same length reached through pointers.
  std::string part;
  for (int i = 0; i < 3; ++i) {
    part.push_back(60);
    part += std::string(60, 'a');
  }
  part.push_back(0);  // 184 bytes at 12
  std::string q2 = part + Bytes({0, 1, 0, 1});
  std::string second = Bytes({60}) + std::string(60, 'b') + Bytes({60}) + std::string(60, 'b') +
                       Bytes({0xC0, 12, 0, 1, 0, 1});
  ExpectRejected(Hdr(2, 0) + q2 + second, "longer than 255");
}

TEST(DnsMessage, RejectsReservedLabelTypes) {
  // A label length byte of 64..191 is a reserved label type (0x40, 0x80).
  ExpectRejected(Hdr(1, 0) + Bytes({64}) + std::string(64, 'a') + Bytes({0, 0, 1, 0, 1}),
                 "reserved label type");
  ExpectRejected(Hdr(1, 0) + Bytes({0x80, 0, 0, 1, 0, 1}), "reserved label type");
}

TEST(DnsMessage, RejectsRdlengthOverrun) {
  ExpectRejected(Hdr(1, 1) + kQuestion + Bytes({0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 50, 'x'}),
                 "data overruns");
  ExpectRejected(Hdr(1, 1) + kQuestion + Bytes({0, 0, 1, 0, 1, 0, 0, 0, 0, 0}), "overruns");
}

TEST(DnsMessage, RejectsRdlengthMismatch) {
  ExpectRejected(Hdr(1, 1) + kQuestion + Bytes({0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 3, 1, 2, 3}),
                 "wrong length");
  // A CNAME whose name runs past its RDLENGTH.
  ExpectRejected(Hdr(1, 1) + kQuestion + Bytes({0, 0, 5, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'b', 0}),
                 "overruns");
  // A CNAME whose name ends before its RDLENGTH.
  ExpectRejected(Hdr(1, 1) + kQuestion + Bytes({0, 0, 5, 0, 1, 0, 0, 0, 0, 0, 4, 1, 'b', 0, 9}),
                 "length mismatch");
  ExpectRejected(Hdr(1, 1) + kQuestion + Bytes({0, 0, 33, 0, 1, 0, 0, 0, 0, 0, 3, 0, 1, 0}),
                 "SRV data too short");
}

TEST(DnsMessage, RejectsTruncatedQuestion) {
  ExpectRejected(Hdr(1, 0) + Bytes({1, 'a', 0, 0, 1, 0}), "overruns");
  ExpectRejected(Hdr(1, 0) + Bytes({3, 'a', 'b', 0, 0, 1}), "overruns");
}

TEST(DnsMessage, CheckResponse) {
  Question q{"Www.Example.com.", kTypeA, kClassINET};
  Message resp;
  resp.header.id = 42;
  resp.header.response = true;
  resp.questions.push_back({"www.example.COM.", kTypeA, kClassINET});
  EXPECT_TRUE(CheckResponse(resp, 42, q).ok());
  EXPECT_TRUE(CheckResponse(resp, 42, {"www.example.com", kTypeA, kClassINET}).ok());
  EXPECT_NE(std::string(CheckResponse(resp, 43, q).message()).find("answer for another transaction id"),
            std::string::npos);
  Message other = resp;
  other.questions[0].name = "www.example.org.";
  EXPECT_NE(std::string(CheckResponse(other, 42, q).message()).find("answer for another question"),
            std::string::npos);
  other = resp;
  other.questions[0].type = kTypeAAAA;
  EXPECT_FALSE(CheckResponse(other, 42, q).ok());
  other = resp;
  other.questions[0].cls = 3;
  EXPECT_FALSE(CheckResponse(other, 42, q).ok());
  other = resp;
  other.questions.clear();
  EXPECT_FALSE(CheckResponse(other, 42, q).ok());
  other = resp;
  other.header.response = false;
  EXPECT_NE(std::string(CheckResponse(other, 42, q).message()).find("not a response"), std::string::npos);
}

}  // namespace
}  // namespace gonet::net_internal::dns
