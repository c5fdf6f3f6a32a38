// Observes Go 1.19's UDP behaviour (net.ListenPacket, net.Dial("udp"), *net.UDPConn)
// that gonet's net/net.h reproduces; //tests:udp_test (and the udp rows of
// //tests:transport_deadline_test, //tests:transport_close_test) assert the texts
// printed here; udp.out holds the output of go1.19.8 linux/amd64. Loopback only. Ports
// are printed by role: PORT (the listening socket), CPORT (a second socket or a dialed
// conn), DEAD (a port nobody listens on). Run: cd tests/go_observed && go run ./udp
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

var ports = map[string]string{} // port number -> role

func name(port int, role string) { ports[fmt.Sprint(port)] = role }

// norm replaces every known port number that follows a ':' by its role.
func norm(s string) string {
	for p, role := range ports {
		s = strings.ReplaceAll(s, ":"+p+" ", ":"+role+" ")
		s = strings.ReplaceAll(s, ":"+p+":", ":"+role+":")
		s = strings.ReplaceAll(s, ":"+p+"-", ":"+role+"-")
		if strings.HasSuffix(s, ":"+p) {
			s = s[:len(s)-len(p)] + role
		}
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// e prints err the same way on every line: its text, Timeout(), net.ErrClosed, io.EOF.
func e(err error) string {
	if err == nil {
		return "err=<nil>"
	}
	return fmt.Sprintf("err=%q timeout=%v closed=%v eof=%v", norm(err.Error()), isTimeout(err),
		errors.Is(err, net.ErrClosed), errors.Is(err, io.EOF))
}

func a(addr net.Addr) string {
	if addr == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s/%s", addr.Network(), norm(addr.String()))
}

func port(c net.PacketConn) int { return c.LocalAddr().(*net.UDPAddr).Port }

func line(scenario, format string, args ...any) {
	fmt.Printf("[%s] %s\n", scenario, fmt.Sprintf(format, args...))
}

func main() {
	// ---- Addresses.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	name(port(pc), "PORT")
	line("udp listen addr", "type=%T local=%s %s", pc, a(pc.LocalAddr()), e(err))
	other, _ := net.ListenPacket("udp", "127.0.0.1:0")
	name(port(other), "CPORT")
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0")
	deadPort := port(dead)
	name(deadPort, "DEAD")
	dead.Close()

	// ---- WriteTo + ReadFrom.
	buf := make([]byte, 100)
	n, err := other.WriteTo([]byte("hello"), pc.LocalAddr())
	line("udp writeto", "n=%d %s", n, e(err))
	n, from, err := pc.ReadFrom(buf)
	line("udp readfrom", "n=%d data=%q from=%s %s", n, buf[:n], a(from), e(err))

	// ---- Zero-length datagram.
	n, err = other.WriteTo(nil, pc.LocalAddr())
	line("udp writeto empty", "n=%d %s", n, e(err))
	n, from, err = pc.ReadFrom(buf)
	line("udp readfrom empty datagram", "n=%d from=%s %s", n, a(from), e(err))

	// ---- Truncation: ReadFrom drops the tail silently; ReadMsgUDP sets MSG_TRUNC.
	other.WriteTo([]byte("0123456789"), pc.LocalAddr())
	small := make([]byte, 4)
	n, from, err = pc.ReadFrom(small)
	line("udp readfrom truncated", "n=%d data=%q from=%s %s", n, small[:n], a(from), e(err))
	other.WriteTo([]byte("0123456789"), pc.LocalAddr())
	oob := make([]byte, 64)
	u := pc.(*net.UDPConn)
	n, oobn, flags, ua, err := u.ReadMsgUDP(small, oob)
	line("udp readmsgudp truncated", "n=%d oobn=%d flags=%#x trunc=%v from=%s %s", n, oobn, flags,
		flags&syscall.MSG_TRUNC != 0, a(ua), e(err))
	other.WriteTo([]byte("abc"), pc.LocalAddr())
	n, oobn, flags, ua, err = u.ReadMsgUDP(buf, oob)
	line("udp readmsgudp", "n=%d data=%q oobn=%d flags=%#x from=%s %s", n, buf[:n], oobn, flags,
		a(ua), e(err))
	n, oobn, err = other.(*net.UDPConn).WriteMsgUDP([]byte("msg"), nil, pc.LocalAddr().(*net.UDPAddr))
	line("udp writemsgudp", "n=%d oobn=%d %s", n, oobn, e(err))
	n, from, err = pc.ReadFrom(buf)
	line("udp writemsgudp received", "n=%d data=%q from=%s %s", n, buf[:n], a(from), e(err))

	// ---- Deadlines.
	pc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	n, from, err = pc.ReadFrom(buf)
	took := time.Since(start)
	line("udp readfrom deadline", "n=%d from=%s %s after>=40ms=%v", n, a(from), e(err),
		took >= 40*time.Millisecond)
	pc.SetReadDeadline(time.Now().Add(-time.Second))
	n, from, err = pc.ReadFrom(buf)
	line("udp readfrom past deadline", "n=%d from=%s %s", n, a(from), e(err))
	n, oobn, flags, ua, err = u.ReadMsgUDP(buf, oob)
	line("udp readmsgudp past deadline", "n=%d oobn=%d flags=%d from=%s %s", n, oobn, flags, a(ua), e(err))
	pc.SetReadDeadline(time.Time{})
	other.WriteTo([]byte("after"), pc.LocalAddr())
	n, from, err = pc.ReadFrom(buf)
	line("udp readfrom deadline cleared", "n=%d data=%q %s", n, buf[:n], e(err))
	pc.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err = pc.WriteTo([]byte("x"), other.LocalAddr())
	line("udp writeto past deadline", "n=%d %s", n, e(err))
	pc.SetWriteDeadline(time.Time{})

	// ---- Write errors on an unconnected socket.
	n, err = pc.(net.Conn).Write([]byte("x"))
	line("udp write unconnected", "n=%d %s", n, e(err))
	n, err = pc.WriteTo(make([]byte, 70000), other.LocalAddr())
	line("udp writeto oversized", "n=%d %s", n, e(err))
	n, err = pc.WriteTo([]byte("x"), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port(other)})
	line("udp writeto tcp addr", "n=%d %s", n, e(err))
	n, err = pc.WriteTo([]byte("x"), &net.UDPAddr{IP: net.ParseIP("::1"), Port: port(other)})
	line("udp writeto v6 addr from v4 socket", "n=%d %s", n, e(err))
	rerr, werr := u.SetReadBuffer(1<<16), u.SetWriteBuffer(1<<16)
	line("udp set buffers", "read: %s write: %s", e(rerr), e(werr))
	raddr := u.RemoteAddr()
	line("udp unconnected remote addr", "remote=%s isnil=%v", a(raddr), raddr == nil)

	// ---- Connected UDP (Dial).
	c, err := net.Dial("udp", pc.LocalAddr().String())
	line("udp dial", "type=%T remote=%s %s", c, a(c.RemoteAddr()), e(err))
	cport := c.LocalAddr().(*net.UDPAddr).Port
	name(cport, "DPORT")
	line("udp dial local addr", "local=%s", a(c.LocalAddr()))
	n, err = c.Write([]byte("ping"))
	line("udp connected write", "n=%d %s", n, e(err))
	n, from, err = pc.ReadFrom(buf)
	line("udp connected write received", "n=%d data=%q from=%s %s", n, buf[:n], a(from), e(err))
	pc.WriteTo([]byte("pong"), from)
	n, err = c.Read(buf)
	line("udp connected read", "n=%d data=%q %s", n, buf[:n], e(err))
	// A datagram from someone else than the peer never reaches a connected socket.
	other.WriteTo([]byte("stranger"), c.LocalAddr())
	pc.WriteTo([]byte("peer"), c.LocalAddr())
	n, err = c.Read(buf)
	line("udp connected filters senders", "n=%d data=%q %s", n, buf[:n], e(err))
	n, err = c.(*net.UDPConn).WriteTo([]byte("x"), pc.LocalAddr())
	line("udp writeto on connected", "n=%d %s", n, e(err))
	n, _, err = c.(*net.UDPConn).WriteMsgUDP([]byte("x"), nil, pc.LocalAddr().(*net.UDPAddr))
	line("udp writemsgudp on connected", "n=%d %s", n, e(err))
	pc.WriteTo([]byte("via readfrom"), c.LocalAddr())
	n, from, err = c.(*net.UDPConn).ReadFrom(buf)
	line("udp readfrom on connected", "n=%d data=%q from=%s %s", n, buf[:n], a(from), e(err))
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err = c.Read(buf)
	line("udp connected read deadline", "n=%d %s", n, e(err))
	c.SetReadDeadline(time.Now().Add(-time.Second))
	n, err = c.Read(buf)
	line("udp connected read past deadline", "n=%d %s", n, e(err))
	c.SetReadDeadline(time.Time{})
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err = c.Write([]byte("x"))
	line("udp connected write past deadline", "n=%d %s", n, e(err))
	c.SetWriteDeadline(time.Time{})
	n, err = c.Write(make([]byte, 70000))
	line("udp connected write oversized", "n=%d %s", n, e(err))

	// ---- ICMP port unreachable: the next Read (or Write) on a connected socket fails.
	r, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", deadPort))
	name(r.LocalAddr().(*net.UDPAddr).Port, "RPORT")
	line("udp dial dead port", "remote=%s %s", a(r.RemoteAddr()), e(err))
	n, err = r.Write([]byte("anyone?"))
	line("udp write to dead port", "n=%d %s", n, e(err))
	r.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err = r.Read(buf)
	line("udp read after icmp refused", "n=%d %s errno=%d", n, e(err), errnoOf(err))
	n, err = r.Write([]byte("again"))
	line("udp write after refused read", "n=%d %s", n, e(err))
	time.Sleep(50 * time.Millisecond) // the ICMP error of "again" arrives
	n, err = r.Write([]byte("third"))
	line("udp write with pending icmp error", "n=%d %s", n, e(err))
	r.Close()

	// ---- Close.
	parked := make(chan string)
	go func() {
		n, from, err := other.ReadFrom(buf)
		parked <- fmt.Sprintf("n=%d from=%s %s", n, a(from), e(err))
	}()
	time.Sleep(50 * time.Millisecond)
	err = other.Close()
	line("udp close unblocks readfrom", "close=%v readfrom: %s", err, <-parked)
	go func() {
		n, err := c.Read(buf)
		parked <- fmt.Sprintf("n=%d %s", n, e(err))
	}()
	time.Sleep(50 * time.Millisecond)
	err = c.Close()
	line("udp close unblocks connected read", "close=%v read: %s", err, <-parked)
	n, err = c.Read(buf)
	line("udp connected read after close", "n=%d %s", n, e(err))
	n, err = c.Write([]byte("x"))
	line("udp connected write after close", "n=%d %s", n, e(err))
	err = c.Close()
	line("udp connected second close", "%s", e(err))
	pc.Close()
	n, from, err = pc.ReadFrom(buf)
	line("udp readfrom after close", "n=%d from=%s %s", n, a(from), e(err))
	n, err = pc.WriteTo([]byte("x"), other.LocalAddr())
	line("udp writeto after close", "n=%d %s", n, e(err))
	n, oobn, flags, ua, err = u.ReadMsgUDP(buf, oob)
	line("udp readmsgudp after close", "n=%d oobn=%d from=%s %s", n, oobn, a(ua), e(err))
	err = pc.SetReadDeadline(time.Now())
	line("udp setreaddeadline after close", "%s", e(err))
	err = u.SetReadBuffer(1 << 16)
	line("udp setreadbuffer after close", "%s", e(err))
	err = pc.Close()
	line("udp second close", "%s", e(err))
	line("udp local addr after close", "local=%s", a(pc.LocalAddr()))

	// ---- Wrong networks and addresses.
	_, err = net.ListenPacket("udp4", "[::1]:0")
	line("listenpacket udp4 [::1]:0", "%s", e(err))
	_, err = net.ListenPacket("udp6", "127.0.0.1:0")
	line("listenpacket udp6 127.0.0.1:0", "%s", e(err))
	_, err = net.Listen("udp", "127.0.0.1:0")
	line("listen udp", "%s", e(err))
	_, err = net.ListenPacket("tcp", "127.0.0.1:0")
	line("listenpacket tcp", "%s", e(err))
	_, err = net.ListenPacket("udp", "127.0.0.1")
	line("listenpacket missing port", "%s", e(err))
	_, err = net.ListenPacket("udp", "127.0.0.1:99999")
	line("listenpacket bad port", "%s", e(err))
	_, err = net.Dial("udp6", "127.0.0.1:1")
	line("dial udp6 127.0.0.1:1", "%s", e(err))
	_, err = net.Dial("udp4", "[::1]:1")
	line("dial udp4 [::1]:1", "%s", e(err))
	_, err = net.Dial("udp", "127.0.0.1:0")
	line("dial udp port 0", "%s", e(err))
	held, _ := net.ListenPacket("udp", "127.0.0.1:0")
	name(port(held), "HPORT")
	_, err = net.ListenPacket("udp", held.LocalAddr().String())
	line("listenpacket address in use", "%s", e(err))
	held.Close()

	// ---- ResolveUDPAddr.
	ra, err := net.ResolveUDPAddr("udp", "127.0.0.1:53")
	line("resolveudpaddr", "addr=%s %s", a(ra), e(err))
	ra, err = net.ResolveUDPAddr("udp6", "[::1]:53")
	line("resolveudpaddr udp6", "addr=%s %s", a(ra), e(err))
	_, err = net.ResolveUDPAddr("udp", "127.0.0.1")
	line("resolveudpaddr missing port", "%s", e(err))
	_, err = net.ResolveUDPAddr("tcp", "127.0.0.1:53")
	line("resolveudpaddr tcp", "%s", e(err))
	ta, err := net.ResolveTCPAddr("tcp", "127.0.0.1:53")
	line("resolvetcpaddr", "addr=%s %s", a(ta), e(err))
}

func errnoOf(err error) int {
	var en syscall.Errno
	if errors.As(err, &en) {
		return int(en)
	}
	return 0
}
