// Observes Go 1.19's time.Timer / time.Ticker / context behaviour that gonet's
// fiber/timer.h and fiber/context.h reproduce. //fiber:timer_test and
// //fiber:context_test assert the values printed here; timer_context.out holds the
// output of go1.19.8 linux/amd64. Run: cd tests/go_observed && go run ./timer_context
package main

import (
	"context"
	"fmt"
	"time"
)

func recovered(f func()) (msg string) {
	defer func() { msg = fmt.Sprint(recover()) }()
	f()
	return "no panic"
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func main() {
	// ---- time.Timer: Stop and Reset return values.
	t := time.NewTimer(time.Hour)
	fmt.Println("timer: Stop on pending:", t.Stop())
	fmt.Println("timer: Stop again:", t.Stop())
	fmt.Println("timer: Reset on stopped:", t.Reset(time.Hour))
	fmt.Println("timer: Reset on pending:", t.Reset(time.Hour))
	fmt.Println("timer: Stop after Reset:", t.Stop())

	t = time.NewTimer(time.Millisecond)
	<-t.C
	fmt.Println("timer: Stop after fire (received):", t.Stop())
	fmt.Println("timer: Reset after fire:", t.Reset(time.Millisecond))
	time.Sleep(50 * time.Millisecond)
	fmt.Println("timer: Stop after fire (not received):", t.Stop(), "len(C):", len(t.C))
	<-t.C // Go's drain idiom: if !t.Stop() { <-t.C }

	t = time.NewTimer(0)
	<-t.C
	fmt.Println("timer: NewTimer(0) fired; Stop:", t.Stop())
	t = time.NewTimer(-time.Second)
	<-t.C
	fmt.Println("timer: NewTimer(-1s) fired; Stop:", t.Stop())
	fmt.Println("timer: cap(C):", cap(t.C))

	// ---- time.AfterFunc.
	ran := make(chan bool, 1)
	af := time.AfterFunc(time.Hour, func() { ran <- true })
	fmt.Println("afterfunc: Stop on pending:", af.Stop(), "C is nil:", af.C == nil)
	af = time.AfterFunc(time.Millisecond, func() { ran <- true })
	<-ran
	fmt.Println("afterfunc: Stop after f ran:", af.Stop())

	// ---- time.Ticker.
	tk := time.NewTicker(5 * time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	fmt.Println("ticker: after 100ms unread at 5ms, len(C):", len(tk.C), "cap(C):", cap(tk.C))
	tk.Stop()
	fmt.Println("ticker: NewTicker(0):", recovered(func() { time.NewTicker(0) }))
	fmt.Println("ticker: NewTicker(-1):", recovered(func() { time.NewTicker(-1) }))
	tk = time.NewTicker(time.Hour)
	fmt.Println("ticker: Reset(0):", recovered(func() { tk.Reset(0) }))
	tk.Stop()

	// ---- context.
	fmt.Printf("context.Canceled: %q\n", context.Canceled.Error())
	fmt.Printf("context.DeadlineExceeded: %q\n", context.DeadlineExceeded.Error())

	bg := context.Background()
	_, hasDeadline := bg.Deadline()
	fmt.Println("background: Done is nil:", bg.Done() == nil, "Err:", errText(bg.Err()),
		"has deadline:", hasDeadline, "Value(k):", bg.Value("k"))

	ctx, cancel := context.WithCancel(bg)
	fmt.Println("withcancel: Err before:", errText(ctx.Err()))
	cancel()
	<-ctx.Done()
	fmt.Println("withcancel: Err after cancel:", errText(ctx.Err()))
	cancel()
	fmt.Println("withcancel: Err after second cancel:", errText(ctx.Err()))

	parent, pcancel := context.WithCancel(bg)
	child, ccancel := context.WithCancel(parent)
	ccancel()
	fmt.Println("child cancel: child Err:", errText(child.Err()), "parent Err:", errText(parent.Err()))
	child2, ccancel2 := context.WithCancel(parent)
	vchild := context.WithValue(parent, "k", "v")
	grandchild, gcancel := context.WithCancel(vchild)
	pcancel()
	fmt.Println("parent cancel: child Err:", errText(child2.Err()),
		"grandchild via value Err:", errText(grandchild.Err()))
	ccancel2()
	gcancel()
	late, lcancel := context.WithCancel(parent)
	fmt.Println("child of canceled parent: Err:", errText(late.Err()))
	lcancel()

	start := time.Now()
	dctx, dcancel := context.WithTimeout(bg, 50*time.Millisecond)
	<-dctx.Done()
	fmt.Println("withtimeout(50ms): Err:", errText(dctx.Err()),
		"fired after >= 40ms:", time.Since(start) >= 40*time.Millisecond)
	dcancel()
	fmt.Println("withtimeout: Err after cancel of expired:", errText(dctx.Err()))

	pctx, pcancel2 := context.WithDeadline(bg, time.Now().Add(-time.Second))
	fmt.Println("withdeadline(past): Err at once:", errText(pctx.Err()))
	pcancel2()
	fmt.Println("withdeadline(past): Err after cancel:", errText(pctx.Err()))

	early := time.Now().Add(time.Hour)
	ectx, ecancel := context.WithDeadline(bg, early)
	lctx, lcancel2 := context.WithDeadline(ectx, early.Add(time.Hour))
	ld, _ := lctx.Deadline()
	fmt.Println("later deadline under earlier parent: Deadline == parent's:", ld.Equal(early))
	sctx, scancel := context.WithDeadline(ectx, early.Add(-time.Minute))
	sd, _ := sctx.Deadline()
	fmt.Println("earlier deadline under later parent: Deadline == own:", sd.Equal(early.Add(-time.Minute)))
	scancel()
	lcancel2()
	ecancel()

	xctx, xcancel := context.WithTimeout(bg, time.Millisecond)
	<-xctx.Done()
	under, ucancel := context.WithCancel(xctx)
	fmt.Println("child of deadline-exceeded parent: Err:", errText(under.Err()))
	ucancel()
	xcancel()

	v1 := context.WithValue(bg, "a", 1)
	v2 := context.WithValue(v1, "b", 2)
	c3, c3cancel := context.WithCancel(v2)
	v4 := context.WithValue(c3, "a", 3)
	fmt.Println("value: v4 a:", v4.Value("a"), "b:", v4.Value("b"), "missing:", v4.Value("z"),
		"c3 a:", c3.Value("a"))
	c3cancel()
}
