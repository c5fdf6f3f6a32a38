// DumpFibers on network waits (the fiber layer's dump_test cannot use //net): a fiber
// parked in a Read shows "IO wait (fd N, read)" with a frame naming the function that
// read, and one parked in Accept shows its listener's fd.
#include <sstream>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"

namespace gonet {
namespace {

ABSL_ATTRIBUTE_NOINLINE void DumpIoTestRead(net::Conn* c) {
  char b[16];
  c->Read(absl::MakeSpan(b));  // parks until the peer closes
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

ABSL_ATTRIBUTE_NOINLINE void DumpIoTestAccept(net::Listener* ln) {
  auto c = ln->Accept();  // parks until the listener closes
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

std::string BlockNaming(const std::string& dump, const std::string& function) {
  for (absl::string_view b : absl::StrSplit(dump, "\n\n")) {
    if (absl::StrContains(b, function)) return std::string(b);
  }
  return "";
}

TEST(DumpIo, ReadAndAcceptShowIoWaitWithFdAndDirection) {
  for (int procs : {1, 2}) {
    gonet::Run([&] {
      auto ln = net::Listen("tcp", "127.0.0.1:0");
      ASSERT_TRUE(ln.ok()) << ln.status();
      auto ln2 = net::Listen("tcp", "127.0.0.1:0");
      ASSERT_TRUE(ln2.ok()) << ln2.status();
      auto client = net::Dial("tcp", (*ln)->Address().String());
      ASSERT_TRUE(client.ok()) << client.status();
      auto server = (*ln)->Accept();
      ASSERT_TRUE(server.ok()) << server.status();
      fiber::WaitGroup done;
      done.Add(2);
      Go([&] { DumpIoTestRead(server->get()); done.Done(); });
      Go([&] { DumpIoTestAccept(ln2->get()); done.Done(); });
      // Wait (deadline, not a fixed sleep) until both show up as IO waits.
      std::string dump;
      const absl::Time deadline = absl::Now() + absl::Seconds(30);
      while (absl::Now() < deadline) {
        std::ostringstream out;
        DumpFibers(out);
        dump = out.str();
        if (absl::StrContains(BlockNaming(dump, "DumpIoTestRead"), "[IO wait (fd ") &&
            absl::StrContains(BlockNaming(dump, "DumpIoTestAccept"), "[IO wait (fd ")) {
          break;
        }
        Sleep(absl::Milliseconds(1));
      }
      const std::string reader = BlockNaming(dump, "DumpIoTestRead");
      EXPECT_TRUE(absl::StrContains(reader, ", read), ")) << dump;
      EXPECT_TRUE(absl::StrContains(reader, "created by ")) << dump;
      EXPECT_TRUE(absl::StrContains(reader, "tests/dump_io_test.cc:")) << dump;
      const std::string acceptor = BlockNaming(dump, "DumpIoTestAccept");
      EXPECT_TRUE(absl::StrContains(acceptor, ", read), ")) << dump;
      EXPECT_TRUE((*client)->Close().ok());
      EXPECT_TRUE((*ln2)->Close().ok());
      done.Wait();
      EXPECT_TRUE((*server)->Close().ok());
      EXPECT_TRUE((*ln)->Close().ok());
    }, {.procs = procs});
  }
}

}  // namespace
}  // namespace gonet
