// Go counterparts of //benchmarks:fiber_benchmark, so compare.py can put the
// fiber runtime's figures next to the goroutine runtime's on the same machine.
//
// Every benchmark reports ns/op where one op is the unit the matching C++
// benchmark counts (see README.md for the pairing). Run with -cpu 1,2 to get
// GOMAXPROCS=1 and =2, matching the C++ benchmarks' procs:1 and procs:2.
// Standard library only; builds offline with Debian's golang-go (Go 1.19).
package gocompare

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkRawSyscallGetppid makes a short system call without telling the
// scheduler. Counterpart: BM_Direct_Getppid.
func BenchmarkRawSyscallGetppid(b *testing.B) {
	for i := 0; i < b.N; i++ {
		syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
}

// BenchmarkSyscallGetppid makes the same call through syscall.Syscall, which wraps
// it in entersyscall/exitsyscall (the P may be handed off if it lasts).
// Counterpart: BM_Blocking_Getppid.
func BenchmarkSyscallGetppid(b *testing.B) {
	for i := 0; i < b.N; i++ {
		syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
}

// pingPongTurns has two goroutines take strict turns: goroutine k waits until
// turn == t (t = k, k+2, k+4, ...) by calling runtime.Gosched, then advances
// turn. Each advance hands control to the other goroutine, so b.N advances are
// b.N switches. Counterpart: BM_Yield_PingPong (ns per switch).
func benchGoschedSwitch(b *testing.B) {
	var turn atomic.Int64
	var wg sync.WaitGroup
	n := int64(b.N)
	player := func(first int64) {
		defer wg.Done()
		for t := first; t < n; t += 2 {
			for turn.Load() != t {
				runtime.Gosched()
			}
			turn.Store(t + 1)
		}
	}
	b.ResetTimer()
	wg.Add(2)
	go player(0)
	go player(1)
	wg.Wait()
}

// benchChanSwitch bounces a token between two goroutines over two unbuffered
// channels. One op is one one-way handoff (one switch): the ping goroutine
// sends on odd ops' channel and receives on the even ones'.
func benchChanSwitch(b *testing.B) {
	ping, pong := make(chan struct{}), make(chan struct{})
	n := b.N
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Receives the token on ops 0, 2, 4, ... and returns it on ops 1, 3, ...
		for i := 0; i < n; i += 2 {
			<-ping
			if i+1 < n {
				pong <- struct{}{}
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < n; i += 2 {
		ping <- struct{}{}
		if i+1 < n {
			<-pong
		}
	}
	<-done
}

func BenchmarkGoroutineSwitch(b *testing.B) {
	b.Run("gosched", benchGoschedSwitch)
	b.Run("chan", benchChanSwitch)
}

// BenchmarkSpawnJoin starts one goroutine and waits for it per op.
// Counterpart: BM_Spawn_Join (ns per fiber spawned and joined).
func BenchmarkSpawnJoin(b *testing.B) {
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		wg.Add(1)
		go wg.Done()
		wg.Wait()
	}
}

// roundTrip sends a value to an echo goroutine and waits for it to come back,
// b.N times, over channels of the given capacity.
func roundTrip(b *testing.B, capacity int) {
	req, resp := make(chan int, capacity), make(chan int, capacity)
	go func() {
		for v := range req {
			resp <- v
		}
		close(resp)
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req <- i
		if got := <-resp; got != i {
			b.Fatalf("echo returned %d, want %d", got, i)
		}
	}
	b.StopTimer()
	close(req)
	for range resp {
	}
}

// Counterpart: BM_Channel_Unbuffered_RoundTrip (ns per request+reply).
func BenchmarkChanUnbufferedRoundTrip(b *testing.B) { roundTrip(b, 0) }

// Counterpart: BM_Channel_Buffered_RoundTrip. Only one value is ever in flight,
// so the capacity only decides that a send never waits for the receiver.
func BenchmarkChanBufferedRoundTrip(b *testing.B) { roundTrip(b, 1) }

// Counterpart: BM_Mutex_Uncontended (ns per Lock+Unlock, one goroutine).
func BenchmarkMutexUncontended(b *testing.B) {
	var mu sync.Mutex
	x := 0
	for i := 0; i < b.N; i++ {
		mu.Lock()
		x++
		mu.Unlock()
	}
	if x != b.N {
		b.Fatalf("x = %d, want %d", x, b.N)
	}
}

// BenchmarkRWMutexRLock: one RLock+RUnlock per op, one goroutine (no writer).
// Counterpart: BM_RWMutex_RLock_Uncontended.
func BenchmarkRWMutexRLock(b *testing.B) {
	var mu sync.RWMutex
	for i := 0; i < b.N; i++ {
		mu.RLock()
		mu.RUnlock()
	}
}

// BenchmarkMutexContended: two goroutines each take the lock b.N/2 times and
// yield while holding it, so the other goroutine always finds it held and
// blocks; every Unlock then has a waiter to hand the lock to. One op is one
// Lock+Unlock (the yield inside included). Go's Mutex lets the unlocker barge
// back in until a waiter has waited 1ms, then hands off strictly (starvation
// mode), so this measures Go's real contended behaviour, not a pure handoff.
// Counterpart: BM_Mutex_Contended.
func BenchmarkMutexContended(b *testing.B) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	count := 0
	worker := func(iters int) {
		defer wg.Done()
		for i := 0; i < iters; i++ {
			mu.Lock()
			count++
			runtime.Gosched()
			mu.Unlock()
		}
	}
	b.ResetTimer()
	wg.Add(2)
	go worker(b.N / 2)
	go worker(b.N - b.N/2)
	wg.Wait()
	if count != b.N {
		b.Fatalf("count = %d, want %d", count, b.N)
	}
}

// Counterpart: BM_Timer_AddCancel (ns per timer armed and cancelled before
// it fires).
func BenchmarkTimerAddCancel(b *testing.B) {
	fired := atomic.Int64{}
	f := func() { fired.Add(1) }
	for i := 0; i < b.N; i++ {
		t := time.AfterFunc(time.Hour, f)
		if !t.Stop() {
			b.Fatal("timer fired or was already stopped")
		}
	}
	if fired.Load() != 0 {
		b.Fatal("a cancelled timer fired")
	}
}

// BenchmarkPollerPipeRoundTrip: the nearest Go-visible analogue of
// BM_Poller_WakeRoundTrip. A goroutine parked in the netpoller on an empty
// pipe is made runnable by a 1-byte write and answers on a second pipe; one
// op is that round trip. It includes two write and two read syscalls besides
// the poller wake-ups, so compare with care (README.md).
func BenchmarkPollerPipeRoundTrip(b *testing.B) {
	r1, w1, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	r2, w2, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer r2.Close()
	defer w1.Close()
	go func() {
		defer w2.Close()
		defer r1.Close()
		buf := make([]byte, 1)
		for {
			if _, err := r1.Read(buf); err != nil {
				return
			}
			if _, err := w2.Write(buf); err != nil {
				return
			}
		}
	}()
	buf := []byte{1}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w1.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := r2.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelectTwoCase: one two-case select per op, one case ready (a value
// in a buffered channel, put back after), the other never. Counterpart:
// BM_Select_TwoCase.
func BenchmarkSelectTwoCase(b *testing.B) {
	ready := make(chan int, 1)
	never := make(chan int, 1)
	ready <- 1
	for i := 0; i < b.N; i++ {
		select {
		case v := <-ready:
			ready <- v
		case v := <-never:
			b.Fatal("never-ready case taken", v)
		}
	}
}

// BenchmarkTimerResetStop: one Reset (re-arm an hour out) plus one Stop per op
// on one Timer. Counterpart: BM_Timer_ResetStop.
func BenchmarkTimerResetStop(b *testing.B) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	for i := 0; i < b.N; i++ {
		t.Reset(time.Hour)
		if !t.Stop() {
			b.Fatal("Stop found the timer inactive")
		}
	}
}

// BenchmarkContextWithCancel: one WithCancel of a cancelable parent plus its
// cancel per op (the child registers with the parent and deregisters).
// Counterpart: BM_Context_WithCancel.
func BenchmarkContextWithCancel(b *testing.B) {
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(parent)
		cancel()
		if ctx.Err() == nil {
			b.Fatal("not canceled")
		}
	}
}
