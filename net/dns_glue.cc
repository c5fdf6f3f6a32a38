// Placeholder until the built-in DNS client lands (this session): the Go-resolver
// lookups fail with kUnimplemented.
#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net_internal {
namespace {
absl::Status NotYet() {
  return absl::UnimplementedError("gonet: the built-in DNS client is not built yet");
}
}  // namespace
absl::StatusOr<std::vector<IPAddr>> LookupIPAddrGo(const Context&, absl::Time, Network,
                                                   std::string_view) {
  return NotYet();
}
absl::StatusOr<std::vector<std::string>> LookupAddrGo(const Context&, absl::Time, const IPAddr&,
                                                      std::string_view) {
  return NotYet();
}
absl::StatusOr<std::string> LookupCNAMEGo(const Context&, absl::Time, std::string_view) {
  return NotYet();
}
absl::StatusOr<std::pair<std::string, std::vector<net::Resolver::SRV>>> LookupSRVGo(
    const Context&, absl::Time, std::string_view) {
  return NotYet();
}
}  // namespace gonet::net_internal
