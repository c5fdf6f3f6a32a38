// Built by CI from its own workspace: proves @gonet//fiber is consumable as a dependency.
#include <cstdio>

#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"

int main() {
  long sum = 0;
  gonet::Run([&] {
    gonet::fiber::Channel<int> ch(16);
    gonet::fiber::WaitGroup wg;
    for (int p = 0; p < 4; ++p) {
      wg.Add(1);
      gonet::Go([&, p] {
        for (int i = 0; i < 250; ++i) ch.Send(p * 250 + i);
        wg.Done();
      });
    }
    gonet::Go([&] {
      wg.Wait();
      ch.Close();
    });
    while (auto v = ch.Recv()) sum += *v;
  }, {.procs = 2});
  std::printf("hello from gonet fibers: sum=%ld\n", sum);
  return sum == 999L * 1000 / 2 ? 0 : 1;
}
