// Observes Go 1.19's pure-Go resolver (net.Resolver{PreferGo: true}, dnsclient_unix.go)
// against a fake DNS server on loopback: the DNSError texts and results that gonet's
// //net:dnsclient reproduces (//tests:dns_client_test asserts them). dns.out holds the
// output of go1.19.8 linux/amd64. Loopback only: the Resolver's Dial always connects to
// the fake server. Go still names the first nameserver of the machine's resolv.conf in
// its texts (the address it would have dialed), so that part is printed as SERVER.
// Run: cd tests/go_observed && go run ./dns
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"
)

// ---- A minimal DNS wire encoder (standard library only). ----

func putName(b []byte, name string) []byte {
	name = strings.TrimSuffix(name, ".")
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

type rr struct {
	name  string
	typ   uint16
	rdata []byte
}

func nameData(n string) []byte { return putName(nil, n) }

func srvData(prio, weight, port uint16, target string) []byte {
	b := make([]byte, 6)
	binary.BigEndian.PutUint16(b, prio)
	binary.BigEndian.PutUint16(b[2:], weight)
	binary.BigEndian.PutUint16(b[4:], port)
	return append(b, nameData(target)...)
}

func reply(id uint16, flags uint16, qname string, qtype uint16, answers []rr) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b, id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], 1)
	binary.BigEndian.PutUint16(b[6:], uint16(len(answers)))
	b = putName(b, qname)
	b = append(b, byte(qtype>>8), byte(qtype), 0, 1)
	for _, a := range answers {
		b = putName(b, a.name)
		b = append(b, byte(a.typ>>8), byte(a.typ), 0, 1, 0, 0, 0, 60,
			byte(len(a.rdata)>>8), byte(len(a.rdata)))
		b = append(b, a.rdata...)
	}
	return b
}

// parseQuery returns id, lowercased qname (rooted) and qtype; EDNS records are ignored.
func parseQuery(q []byte) (uint16, string, uint16, bool) {
	if len(q) < 12 {
		return 0, "", 0, false
	}
	id := binary.BigEndian.Uint16(q)
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		n := int(q[i])
		if i+1+n > len(q) {
			return 0, "", 0, false
		}
		labels = append(labels, string(q[i+1:i+1+n]))
		i += 1 + n
	}
	if i+5 > len(q) {
		return 0, "", 0, false
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	return id, strings.ToLower(strings.Join(labels, ".")) + ".", qtype, true
}

const (
	typeA     = 1
	typeCNAME = 5
	typePTR   = 12
	typeAAAA  = 28
	typeSRV   = 33
	flagsOK   = 0x8180 // QR RD RA
	flagsNX   = 0x8183
	flagsFail = 0x8182
	flagsTC   = 0x8380
)

// answer scripts the fake server: nil means "never answer".
func answer(q []byte, tcp bool) [][]byte {
	id, name, qtype, ok := parseQuery(q)
	if !ok {
		return nil
	}
	ok4 := func(ip string) []rr { return []rr{{name, typeA, net.ParseIP(ip).To4()}} }
	switch name {
	case "ok.test.":
		if qtype == typeA {
			return [][]byte{reply(id, flagsOK, name, qtype, ok4("10.0.0.1"))}
		}
		if qtype == typeAAAA {
			return [][]byte{reply(id, flagsOK, name, qtype, []rr{{name, typeAAAA, net.ParseIP("fd00::1")}})}
		}
	case "nx.test.":
		return [][]byte{reply(id, flagsNX, name, qtype, nil)}
	case "fail.test.":
		return [][]byte{reply(id, flagsFail, name, qtype, nil)}
	case "black.test.":
		return nil
	case "trunc.test.":
		if !tcp {
			return [][]byte{reply(id, flagsTC, name, qtype, nil)}
		}
		if qtype == typeA {
			return [][]byte{reply(id, flagsOK, name, qtype, ok4("10.0.0.3"))}
		}
	case "wrongid.test.":
		if qtype == typeA {
			return [][]byte{reply(id+1, flagsOK, name, qtype, ok4("10.0.0.99")),
				reply(id, flagsOK, name, qtype, ok4("10.0.0.5"))}
		}
	case "c1.test.":
		if qtype == typeA {
			return [][]byte{reply(id, flagsOK, name, qtype, []rr{
				{"c1.test.", typeCNAME, nameData("c2.test.")},
				{"c2.test.", typeCNAME, nameData("c3.test.")},
				{"c3.test.", typeA, net.ParseIP("10.0.0.4").To4()}})}
		}
		if qtype == typeCNAME {
			return [][]byte{reply(id, flagsOK, name, qtype, []rr{{"c1.test.", typeCNAME, nameData("c2.test.")}})}
		}
	case "_http._tcp.srv.test.":
		return [][]byte{reply(id, flagsOK, name, qtype, []rr{
			{name, typeSRV, srvData(20, 0, 80, "z.test.")},
			{name, typeSRV, srvData(10, 60, 81, "a.test.")},
			{name, typeSRV, srvData(10, 40, 82, "b.test.")},
			{name, typeSRV, srvData(5, 0, 83, "first.test.")}})}
	case "4.0.0.10.in-addr.arpa.":
		return [][]byte{reply(id, flagsOK, name, qtype, []rr{{name, typePTR, nameData("host.test.")}})}
	case "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.":
		return [][]byte{reply(id, flagsOK, name, qtype, []rr{{name, typePTR, nameData("six.test.")}})}
	case "lame.test.":
		return [][]byte{reply(id, 0x8100, name, qtype, nil)} // no AA, no RA, no answer
	case "noanswer.test.":
		return [][]byte{reply(id, flagsOK, name, qtype, nil)}
	}
	return [][]byte{reply(id, flagsOK, name, qtype, nil)}
}

func serve() (udpAddr, tcpAddr string) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, r := range answer(append([]byte(nil), buf[:n]...), false) {
				pc.WriteTo(r, from)
			}
		}
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				var l [2]byte
				for {
					if _, err := c.Read(l[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(l[:]))
					if _, err := ioReadFull(c, q); err != nil {
						return
					}
					rs := answer(q, true)
					if rs == nil {
						time.Sleep(time.Hour)
					}
					for _, r := range rs {
						c.Write(append([]byte{byte(len(r) >> 8), byte(len(r))}, r...))
					}
				}
			}(c)
		}
	}()
	return pc.LocalAddr().String(), ln.Addr().String()
}

func ioReadFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func text(err error) string {
	if err == nil {
		return "<nil>"
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		s := err.Error()
		if de.Server != "" {
			s = strings.Replace(s, " on "+de.Server+":", " on SERVER:", 1)
		}
		return fmt.Sprintf("%s (timeout=%v notfound=%v temporary=%v)", s, de.IsTimeout, de.IsNotFound, de.Temporary())
	}
	return err.Error() + " (not a DNSError)"
}

func main() {
	udp, tcp := serve()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		if strings.HasPrefix(network, "udp") {
			return d.DialContext(ctx, network, udp)
		}
		return d.DialContext(ctx, network, tcp)
	}}
	bg := context.Background()
	ipText := func(ips []net.IPAddr, err error) string {
		var s []string
		for _, ip := range ips {
			s = append(s, ip.String())
		}
		return fmt.Sprintf("%v %s", s, text(err))
	}
	fmt.Println("A+AAAA ok.test.:", ipText(r.LookupIPAddr(bg, "ok.test.")))
	fmt.Println("NXDOMAIN:", ipText(r.LookupIPAddr(bg, "nx.test.")))
	fmt.Println("SERVFAIL:", ipText(r.LookupIPAddr(bg, "fail.test.")))
	fmt.Println("lame referral:", ipText(r.LookupIPAddr(bg, "lame.test.")))
	fmt.Println("no answer:", ipText(r.LookupIPAddr(bg, "noanswer.test.")))
	fmt.Println("invalid name:", ipText(r.LookupIPAddr(bg, "bad..name")))
	fmt.Println("truncated then TCP:", ipText(r.LookupIPAddr(bg, "trunc.test.")))
	fmt.Println("wrong id then right id:", ipText(r.LookupIPAddr(bg, "wrongid.test.")))
	fmt.Println("CNAME chain:", ipText(r.LookupIPAddr(bg, "c1.test.")))
	cn, err := r.LookupCNAME(bg, "c1.test.")
	fmt.Println("LookupCNAME c1.test.:", cn, text(err))
	cn, err = r.LookupCNAME(bg, "nx.test.")
	fmt.Println("LookupCNAME nx.test.:", cn, text(err))

	start := time.Now()
	ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
	ips, err := r.LookupIPAddr(ctx, "black.test.")
	cancel()
	el := time.Since(start)
	fmt.Println("blackhole, 200ms ctx:", ipText(ips, err), "returned in [200ms,2s):", el >= 200*time.Millisecond && el < 2*time.Second)

	ctx, cancel = context.WithCancel(bg)
	time.AfterFunc(50*time.Millisecond, cancel)
	start = time.Now()
	ips, err = r.LookupIPAddr(ctx, "black.test.")
	el = time.Since(start)
	fmt.Println("blackhole, canceled at 50ms:", ipText(ips, err), "is context.Canceled:", errors.Is(err, context.Canceled), "returned in <2s:", el < 2*time.Second)

	cname, srvs, err := r.LookupSRV(bg, "http", "tcp", "srv.test.")
	fmt.Println("SRV cname:", cname, text(err))
	// Within one priority the order is weighted-random: print the priorities in order,
	// and per priority the set of targets.
	var prios []string
	byPrio := map[uint16][]string{}
	for _, s := range srvs {
		prios = append(prios, fmt.Sprint(s.Priority))
		byPrio[s.Priority] = append(byPrio[s.Priority], fmt.Sprintf("%s:%d/w%d", s.Target, s.Port, s.Weight))
	}
	fmt.Println("SRV priorities in order:", strings.Join(prios, " "))
	for _, p := range []uint16{5, 10, 20} {
		sort.Strings(byPrio[p])
		fmt.Println("SRV priority", p, byPrio[p])
	}
	// How often a.test (weight 60) comes before b.test (weight 40), over 2000 lookups.
	first := 0
	for i := 0; i < 2000; i++ {
		_, s, _ := r.LookupSRV(bg, "http", "tcp", "srv.test.")
		if s[1].Target == "a.test." {
			first++
		}
	}
	fmt.Println("SRV a.test (w60) before b.test (w40) in 2000 runs, between 1000 and 1400:", first > 1000 && first < 1400)
	_, _, err = r.LookupSRV(bg, "http", "tcp", "nx.test.")
	fmt.Println("SRV NXDOMAIN:", text(err))

	names, err := r.LookupAddr(bg, "10.0.0.4")
	fmt.Println("PTR 10.0.0.4:", names, text(err))
	names, err = r.LookupAddr(bg, "fd00::1")
	fmt.Println("PTR fd00::1:", names, text(err))
	names, err = r.LookupAddr(bg, "10.0.0.9")
	fmt.Println("PTR 10.0.0.9 (no answer):", names, text(err))
}
