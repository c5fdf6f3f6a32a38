// Observes Go 1.19's Unix-domain socket behaviour ("unix", "unixgram", "unixpacket";
// *net.UnixConn, *net.UnixListener, UnixRights) that gonet's net/net.h reproduces;
// //tests:unix_test (and the unix rows of //tests:transport_deadline_test,
// //tests:transport_close_test) assert the texts printed here; unix.out holds the
// output of go1.19.8 linux/amd64. Socket files live in an os.MkdirTemp directory,
// printed as DIR; abstract names are printed as @NAME. Run: cd tests/go_observed && go
// run ./unix
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

var dir, abstract string

func norm(s string) string {
	if abstract != "" {
		s = strings.ReplaceAll(s, abstract, "@NAME")
	}
	return strings.ReplaceAll(s, dir, "DIR")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

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
	if u, ok := addr.(*net.UnixAddr); ok && u == nil {
		return "<nil *UnixAddr>"
	}
	return fmt.Sprintf("%s/%q", addr.Network(), norm(addr.String()))
}

func line(scenario, format string, args ...any) {
	fmt.Printf("[%s] %s\n", scenario, fmt.Sprintf(format, args...))
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// pair is a listener on path plus a dialed conn and its accepted peer.
func pair(network, path string) (net.Listener, net.Conn, net.Conn) {
	ln, err := net.Listen(network, path)
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	c, err := net.Dial(network, path)
	if err != nil {
		fmt.Println("dial:", err)
		os.Exit(1)
	}
	s, err := ln.Accept()
	if err != nil {
		fmt.Println("accept:", err)
		os.Exit(1)
	}
	return ln, c, s
}

func main() {
	var err error
	dir, err = os.MkdirTemp("", "gonet-unix-")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "sock")
	buf := make([]byte, 100)

	// ---- Listen, Dial, Accept: addresses.
	ln, c, s := pair("unix", sock)
	line("unix listen addr", "type=%T addr=%s file exists=%v", ln, a(ln.Addr()), exists(sock))
	line("unix dialed conn addrs", "type=%T local=%s remote=%s", c, a(c.LocalAddr()), a(c.RemoteAddr()))
	line("unix accepted conn addrs", "type=%T local=%s remote=%s", s, a(s.LocalAddr()), a(s.RemoteAddr()))
	n, err := c.Write([]byte("hello"))
	line("unix write", "n=%d %s", n, e(err))
	n, err = s.Read(buf)
	line("unix read", "n=%d data=%q %s", n, buf[:n], e(err))

	// ---- Deadlines.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err = c.Read(buf)
	line("unix dialed read deadline", "n=%d %s", n, e(err))
	s.SetReadDeadline(time.Now().Add(-time.Second))
	n, err = s.Read(buf)
	line("unix accepted read past deadline", "n=%d %s", n, e(err))
	s.SetReadDeadline(time.Time{})
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	n, err = c.Write([]byte("x"))
	line("unix dialed write past deadline", "n=%d %s", n, e(err))
	c.SetWriteDeadline(time.Time{})
	// The send path fills (the peer does not read): the write deadline fires.
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := make([]byte, 1<<20)
	total := 0
	for i := 0; i < 100; i++ {
		n, err = c.Write(big)
		total += n
		if err != nil {
			break
		}
	}
	line("unix write deadline when full", "wrote some=%v %s", total > 0, e(err))
	c.SetWriteDeadline(time.Time{})
	ul := ln.(*net.UnixListener)
	ul.SetDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = ln.Accept()
	line("unix accept deadline", "%s", e(err))
	ul.SetDeadline(time.Time{})

	// ---- CloseWrite / CloseRead.
	c.Close()
	s.Close()
	_, c, s = func() (net.Listener, net.Conn, net.Conn) {
		cc, err := net.Dial("unix", sock)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		ss, _ := ln.Accept()
		return ln, cc, ss
	}()
	err = c.(*net.UnixConn).CloseWrite()
	line("unix closewrite", "%s", e(err))
	n, err = s.Read(buf)
	line("unix read after peer closewrite", "n=%d %s", n, e(err))
	n, err = c.Write([]byte("x"))
	line("unix write after closewrite", "n=%d %s", n, e(err))
	s.Write([]byte("still open"))
	n, err = c.Read(buf)
	line("unix read after own closewrite", "n=%d data=%q %s", n, buf[:n], e(err))
	err = c.(*net.UnixConn).CloseRead()
	line("unix closeread", "%s", e(err))
	n, err = c.Read(buf)
	line("unix read after closeread", "n=%d %s", n, e(err))

	// ---- Close (a fresh pair: s above already reads EOF).
	c.Close()
	s.Close()
	c, _ = net.Dial("unix", sock)
	s, _ = ln.Accept()
	parked := make(chan string)
	go func() {
		n, err := s.Read(buf)
		parked <- fmt.Sprintf("n=%d %s", n, e(err))
	}()
	time.Sleep(50 * time.Millisecond)
	err = s.Close()
	line("unix close unblocks read", "close=%v read: %s", err, <-parked)
	n, err = s.Read(buf)
	line("unix read after close", "n=%d %s", n, e(err))
	n, err = s.Write([]byte("x"))
	line("unix write after close", "n=%d %s", n, e(err))
	err = s.Close()
	line("unix second close accepted", "%s", e(err))
	c.Close()
	err = c.Close()
	line("unix second close dialed", "%s", e(err))

	// Writing to a peer that closed: EPIPE (after the first write notices, or at once).
	c2, _ := net.Dial("unix", sock)
	s2, _ := ln.Accept()
	s2.Close()
	n, err = c2.Write([]byte("x"))
	line("unix write to closed peer", "n=%d %s", n, e(err))
	n, err = c2.Read(buf)
	line("unix read from closed peer", "n=%d %s", n, e(err))
	c2.Close()

	go func() {
		_, err := ln.Accept()
		parked <- e(err)
	}()
	time.Sleep(50 * time.Millisecond)
	err = ln.Close()
	line("unix listener close unblocks accept", "close=%v accept: %s", err, <-parked)
	line("unix socket file after listener close", "exists=%v", exists(sock))
	_, err = ln.Accept()
	line("unix accept after close", "%s", e(err))
	err = ln.Close()
	line("unix listener second close", "%s", e(err))

	ln, _ = net.Listen("unix", sock)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	line("unix socket file with SetUnlinkOnClose(false)", "exists=%v", exists(sock))
	ln, err = net.Listen("unix", sock)
	line("unix listen on existing path", "%s", e(err))
	os.Remove(sock)

	// A file that is no socket at the path.
	os.WriteFile(sock, []byte("x"), 0o600)
	_, err = net.Dial("unix", sock)
	line("unix dial regular file", "%s", e(err))
	os.Remove(sock)
	_, err = net.Dial("unix", filepath.Join(dir, "nope"))
	line("unix dial missing path", "%s", e(err))
	_, err = net.Listen("unix", filepath.Join(dir, "no", "such", "dir"))
	line("unix listen missing dir", "%s", e(err))
	long := filepath.Join(dir, strings.Repeat("x", 120))
	_, err = net.Listen("unix", long)
	line("unix listen path too long", "%s", strings.Replace(e(err), strings.Repeat("x", 120), "x*120", 1))
	_, err = net.Dial("unix", long)
	line("unix dial path too long", "%s", strings.Replace(e(err), strings.Repeat("x", 120), "x*120", 1))

	// ---- Wrong kinds.
	// Go checks the address type, not the network's socket type: ListenPacket("unix")
	// makes an unconnected SOCK_STREAM socket bound to the path.
	pc, err := net.ListenPacket("unix", sock)
	line("listenpacket unix", "type=%T %s exists=%v", pc, e(err), exists(sock))
	if pc != nil {
		pc.Close()
		line("listenpacket unix file after close", "exists=%v", exists(sock))
		_, _, err = pc.ReadFrom(buf)
		line("listenpacket unix readfrom", "%s", e(err))
	}
	os.Remove(sock)
	l2, err := net.Listen("unixgram", sock)
	line("listen unixgram", "%s exists=%v", e(err), exists(sock))
	if l2 != nil {
		l2.(*net.UnixListener).SetDeadline(time.Now().Add(50 * time.Millisecond))
		_, err = l2.Accept()
		line("listen unixgram accept", "%s", e(err))
		l2.Close()
	}
	os.Remove(sock)
	pc, err = net.ListenPacket("unixpacket", sock)
	line("listenpacket unixpacket", "type=%T %s exists=%v", pc, e(err), exists(sock))
	if pc != nil {
		pc.Close()
	}
	os.Remove(sock)
	_, err = net.Listen("tcp", sock)
	line("listen tcp on a path", "%s", e(err))
	ln, _ = net.Listen("unix", sock)
	_, err = net.Dial("unixpacket", sock)
	line("dial unixpacket to a unix listener", "%s", e(err))
	_, err = net.Dial("unixgram", sock)
	line("dial unixgram to a unix listener", "%s", e(err))
	ln.Close()
	// An empty path: the kernel autobinds an abstract name ("@" and 5 hex digits).
	ln, err = net.Listen("unix", "")
	if err == nil {
		name := ln.Addr().String()
		line("listen unix empty path", "%s network=%s name=@+%d chars", e(err), ln.Addr().Network(),
			len(name)-1)
		ln.Close()
	} else {
		line("listen unix empty path", "%s", e(err))
	}

	// ---- Abstract names (Linux).
	abstract = fmt.Sprintf("@gonet-obs-%d", os.Getpid())
	ln, err = net.Listen("unix", abstract)
	line("unix abstract listen", "addr=%s %s", a(ln.Addr()), e(err))
	c, err = net.Dial("unix", abstract)
	line("unix abstract dial", "local=%s remote=%s %s", a(c.LocalAddr()), a(c.RemoteAddr()), e(err))
	s, _ = ln.Accept()
	line("unix abstract accepted", "local=%s remote=%s", a(s.LocalAddr()), a(s.RemoteAddr()))
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(buf)
	line("unix abstract read past deadline", "%s", e(err))
	c.Close()
	s.Close()
	ln.Close()

	// ---- unixgram.
	ga := filepath.Join(dir, "ga")
	gb := filepath.Join(dir, "gb")
	pa, err := net.ListenPacket("unixgram", ga)
	line("unixgram listenpacket", "type=%T local=%s %s", pa, a(pa.LocalAddr()), e(err))
	pb, _ := net.ListenPacket("unixgram", gb)
	bAddr, _ := net.ResolveUnixAddr("unixgram", gb)
	n, err = pa.WriteTo([]byte("dgram"), bAddr)
	line("unixgram writeto", "n=%d %s", n, e(err))
	n, from, err := pb.ReadFrom(buf)
	line("unixgram readfrom bound sender", "n=%d data=%q from=%s %s", n, buf[:n], a(from), e(err))
	small := make([]byte, 2)
	pa.WriteTo([]byte("truncated"), bAddr)
	n, from, err = pb.ReadFrom(small)
	line("unixgram readfrom truncated", "n=%d data=%q from=%s %s", n, small[:n], a(from), e(err))
	pa.WriteTo([]byte("truncated"), bAddr)
	oob := make([]byte, 64)
	n, oobn, flags, ua, err := pb.(*net.UnixConn).ReadMsgUnix(small, oob)
	line("unixgram readmsgunix truncated", "n=%d oobn=%d flags=%#x from=%s %s", n, oobn, flags, a(ua), e(err))
	n, err = pa.WriteTo([]byte{}, bAddr)
	line("unixgram writeto empty", "n=%d %s", n, e(err))
	n, from, err = pb.ReadFrom(buf)
	line("unixgram readfrom empty", "n=%d from=%s %s", n, a(from), e(err))
	gc, err := net.Dial("unixgram", gb)
	line("unixgram dial", "type=%T local=%s remote=%s %s", gc, a(gc.LocalAddr()), a(gc.RemoteAddr()), e(err))
	gc.Write([]byte("unbound"))
	n, from, err = pb.ReadFrom(buf)
	line("unixgram readfrom unbound sender", "n=%d data=%q from=%s fromIsNil=%v %s", n, buf[:n], a(from),
		from == nil, e(err))
	n, err = gc.(*net.UnixConn).WriteTo([]byte("x"), bAddr)
	line("unixgram writeto on connected", "n=%d %s", n, e(err))
	n, err = pa.(net.Conn).Write([]byte("x"))
	line("unixgram write unconnected", "n=%d %s", n, e(err))
	n, err = pa.WriteTo([]byte("x"), &net.UnixAddr{Name: filepath.Join(dir, "nobody"), Net: "unixgram"})
	line("unixgram writeto missing path", "n=%d %s", n, e(err))
	n, err = pa.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	line("unixgram writeto udp addr", "n=%d %s", n, e(err))
	pb.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, from, err = pb.ReadFrom(buf)
	line("unixgram readfrom deadline", "n=%d from=%s %s", n, a(from), e(err))
	gc.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = gc.Read(buf)
	line("unixgram connected read past deadline", "%s", e(err))
	gc.Close()
	pb.Close()
	n, err = pa.WriteTo([]byte("x"), bAddr)
	line("unixgram writeto closed peer", "n=%d %s", n, e(err))
	line("unixgram file after close", "exists=%v", exists(gb))
	pa.Close()
	_, from, err = pa.ReadFrom(buf)
	line("unixgram readfrom after close", "from=%s %s", a(from), e(err))
	err = pa.Close()
	line("unixgram second close", "%s", e(err))
	os.Remove(ga)
	os.Remove(gb)

	// ---- unixpacket: message boundaries.
	pp := filepath.Join(dir, "pp")
	ln, c, s = pair("unixpacket", pp)
	line("unixpacket addrs", "listener=%s dialed local=%s remote=%s accepted local=%s remote=%s",
		a(ln.Addr()), a(c.LocalAddr()), a(c.RemoteAddr()), a(s.LocalAddr()), a(s.RemoteAddr()))
	c.Write([]byte("ab"))
	c.Write([]byte("cd"))
	n1, _ := s.Read(buf)
	r1 := string(buf[:n1])
	n2, _ := s.Read(buf)
	line("unixpacket boundaries", "first=%q second=%q", r1, buf[:n2])
	c.Write([]byte("0123456789"))
	n, err = s.Read(small)
	line("unixpacket read truncated", "n=%d data=%q %s", n, small[:n], e(err))
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, err = c.Read(buf)
	line("unixpacket read past deadline", "%s", e(err))
	c.Close()
	n, err = s.Read(buf)
	line("unixpacket read after peer close", "n=%d %s", n, e(err))
	s.Close()
	ln.Close()

	// ---- ResolveUnixAddr.
	ra, err := net.ResolveUnixAddr("unix", sock)
	line("resolveunixaddr", "addr=%s %s", a(ra), e(err))
	ra, err = net.ResolveUnixAddr("unixgram", "@x")
	line("resolveunixaddr unixgram abstract", "addr=%s %s", a(ra), e(err))
	ra, err = net.ResolveUnixAddr("unixpacket", "")
	line("resolveunixaddr empty", "addr=%s %s", a(ra), e(err))
	_, err = net.ResolveUnixAddr("tcp", sock)
	line("resolveunixaddr tcp", "%s", e(err))

	// ---- SCM_RIGHTS: one fd passed and written through.
	ln, c, s = pair("unix", sock)
	pr, pw, _ := os.Pipe()
	rights := syscall.UnixRights(int(pw.Fd()))
	line("unixrights one fd", "len=%d", len(rights))
	n, oobn, err = c.(*net.UnixConn).WriteMsgUnix([]byte("fd"), rights, nil)
	line("unix writemsgunix rights", "n=%d oobn=%d %s", n, oobn, e(err))
	pw.Close()
	n, oobn, flags, ua, err = s.(*net.UnixConn).ReadMsgUnix(buf, oob)
	line("unix readmsgunix rights", "n=%d data=%q oobn=%d flags=%#x from=%s %s", n, buf[:n], oobn,
		flags, a(ua), e(err))
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	var fds []int
	if err == nil && len(msgs) == 1 {
		fds, err = syscall.ParseUnixRights(&msgs[0])
	}
	line("parseunixrights", "messages=%d fds=%d %s", len(msgs), len(fds), e(err))
	if len(fds) == 1 {
		f := os.NewFile(uintptr(fds[0]), "received")
		f.Write([]byte("through the fd"))
		f.Close()
		got, _ := io.ReadAll(pr)
		line("write through received fd", "pipe read %q", got)
	}
	pr.Close()

	// Three fds, room for one: MSG_CTRUNC; the kernel closes the others.
	var p3 [3][2]*os.File
	var three []int
	for i := range p3 {
		p3[i][0], p3[i][1], _ = os.Pipe()
		three = append(three, int(p3[i][1].Fd()))
	}
	rights = syscall.UnixRights(three...)
	line("unixrights three fds", "len=%d", len(rights))
	n, oobn, err = c.(*net.UnixConn).WriteMsgUnix([]byte("3"), rights, nil)
	line("unix writemsgunix three fds", "n=%d oobn=%d %s", n, oobn, e(err))
	oneSpace := make([]byte, syscall.CmsgSpace(4))
	n, oobn, flags, _, err = s.(*net.UnixConn).ReadMsgUnix(buf, oneSpace)
	line("unix readmsgunix ctrunc", "oob space=%d n=%d oobn=%d flags=%#x ctrunc=%v %s", len(oneSpace), n,
		oobn, flags, flags&syscall.MSG_CTRUNC != 0, e(err))
	msgs, err = syscall.ParseSocketControlMessage(oneSpace[:oobn])
	fds = nil
	if err == nil && len(msgs) == 1 {
		fds, err = syscall.ParseUnixRights(&msgs[0])
	}
	line("parseunixrights ctrunc", "messages=%d fds=%d %s", len(msgs), len(fds), e(err))
	for _, fd := range fds {
		syscall.Close(fd)
	}
	for i := range p3 {
		p3[i][1].Close()
	}
	// Every write end is closed now (the sender's, the received one, and the ones the
	// kernel dropped): each read end sees EOF.
	eofs := 0
	for i := range p3 {
		p3[i][0].SetReadDeadline(time.Now().Add(time.Second))
		if _, err := p3[i][0].Read(buf); err == io.EOF {
			eofs++
		}
		p3[i][0].Close()
	}
	line("unix ctrunc dropped fds closed", "read ends at EOF=%d of 3", eofs)
	// No room at all for the fd: oobn 0, MSG_CTRUNC.
	pr, pw, _ = os.Pipe()
	c.(*net.UnixConn).WriteMsgUnix([]byte("0"), syscall.UnixRights(int(pw.Fd())), nil)
	pw.Close()
	n, oobn, flags, _, err = s.(*net.UnixConn).ReadMsgUnix(buf, nil)
	line("unix readmsgunix no oob space", "n=%d oobn=%d flags=%#x %s", n, oobn, flags, e(err))
	pr.SetReadDeadline(time.Now().Add(time.Second))
	_, err = pr.Read(buf)
	line("unix no oob space fd closed", "pipe read %s", e(err))
	pr.Close()
	c.Close()
	s.Close()
	ln.Close()
}
