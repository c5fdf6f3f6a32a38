// libFuzzer target for //net:dnsmessage's parser (the built-in DNS client's hostile
// input). Besides "no crash, no hang, no sanitizer report" it checks:
//   - CheckResponse on whatever parsed never fails in another way than by status;
//   - a parsed message that BuildMessage can write again (no compression) parses
//     again to the same header, section sizes, names and record data.
// Build and run: net/fuzz/run_fuzz.sh [seconds] (runs this after addr_fuzzer).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "net/dnsmessage.h"

namespace {

namespace dns = gonet::net_internal::dns;

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "dns_fuzzer: property violated: %s\n", what);
  std::abort();
}

bool SameRecords(const std::vector<dns::Resource>& a, const std::vector<dns::Resource>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const dns::Resource &x = a[i], &y = b[i];
    if (x.name != y.name || x.type != y.type || x.cls != y.cls || x.ttl != y.ttl ||
        x.ip_len != y.ip_len || x.ip != y.ip || x.target != y.target ||
        x.priority != y.priority || x.weight != y.weight || x.port != y.port) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<dns::Message> m = dns::ParseMessage(in);
  if (!m.ok()) return 0;
  (void)dns::CheckResponse(*m, 0x1234, {"example.com.", dns::kTypeA, dns::kClassINET});
  for (const dns::Question& q : m->questions) Check(!q.name.empty() && q.name.size() <= 255, "name size");
  absl::StatusOr<std::string> wire = dns::BuildMessage(*m);
  if (!wire.ok()) return 0;
  absl::StatusOr<dns::Message> again = dns::ParseMessage(*wire);
  Check(again.ok(), "a rebuilt message parses");
  const dns::Header &h1 = m->header, &h2 = again->header;
  Check(h1.id == h2.id && h1.response == h2.response && h1.opcode == h2.opcode &&
            h1.authoritative == h2.authoritative && h1.truncated == h2.truncated &&
            h1.recursion_desired == h2.recursion_desired &&
            h1.recursion_available == h2.recursion_available && h1.rcode == h2.rcode,
        "same header");
  Check(m->questions.size() == again->questions.size(), "same question count");
  for (size_t i = 0; i < m->questions.size(); ++i) {
    Check(m->questions[i].name == again->questions[i].name &&
              m->questions[i].type == again->questions[i].type &&
              m->questions[i].cls == again->questions[i].cls,
          "same question");
  }
  Check(SameRecords(m->answers, again->answers), "same answers");
  Check(SameRecords(m->authorities, again->authorities), "same authorities");
  return 0;
}
