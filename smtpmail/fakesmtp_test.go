package smtpmail_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeSMTP is a small SMTP server for the tests, on 127.0.0.1. It speaks just enough of
// RFC 5321 for net/smtp, records what it receives, and lets a test replace any reply.
type fakeSMTP struct {
	addr string
	ln   net.Listener
	done chan struct{} // closed when the test ends: hooks waiting on it give up

	// Set before the first connection:
	tls  *tls.Config // offer STARTTLS with it, when set
	auth bool        // offer AUTH PLAIN
	// respond, when set, is called with the session's number (from 1) and each command line
	// before it is answered. It may block, and it returns the reply to give instead of the
	// usual one ("" for the usual one; "close" closes the connection without a reply).
	respond func(session int, line string) string
	// dataReply, when set, gives the reply to a message instead of "250 OK".
	dataReply func(data []byte) string
	// closed, when set, is called when a session ends.
	closed func(session int)

	wg sync.WaitGroup
	mu sync.Mutex
	// Guarded by mu:
	sessions  int
	active    int // sessions connected and not yet quit
	maxActive int
	messages  []fakeMessage
	conns     map[net.Conn]bool
}

// fakeMessage is a message the fake server accepted.
type fakeMessage struct {
	from string
	to   []string
	data string // with CRLF line ends
	tls  bool   // sent after STARTTLS
	auth string // the decoded AUTH PLAIN response, if any
}

// newFakeSMTP returns a fake server, configured by configure before it accepts its first
// connection. It stops when the test ends.
func newFakeSMTP(t *testing.T, configure func(*fakeSMTP)) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeSMTP{addr: ln.Addr().String(), ln: ln, done: make(chan struct{}), conns: make(map[net.Conn]bool)}
	if configure != nil {
		configure(f)
	}
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(func() {
		close(f.done)
		_ = ln.Close()
		f.mu.Lock()
		for c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeSMTP) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.sessions++
		n := f.sessions
		f.active++
		f.maxActive = max(f.maxActive, f.active)
		f.conns[conn] = true
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.serve(conn, n)
		}()
	}
}

// serve runs one session.
func (f *fakeSMTP) serve(conn net.Conn, n int) {
	quit := false
	leave := func() {
		if !quit {
			quit = true
			f.mu.Lock()
			f.active--
			f.mu.Unlock()
		}
	}
	defer func() {
		leave()
		f.mu.Lock()
		delete(f.conns, conn)
		f.mu.Unlock()
		_ = conn.Close()
		if f.closed != nil {
			f.closed(n)
		}
	}()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(conn)
	reply := func(s string) bool { return tp.PrintfLine("%s", s) == nil }
	if !reply("220 fake.example ESMTP") {
		return
	}
	var msg fakeMessage
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if f.respond != nil {
			if r := f.respond(n, line); r == "close" {
				return
			} else if r != "" {
				if !reply(r) {
					return
				}
				continue
			}
		}
		var r string
		switch verb {
		case "EHLO":
			lines := []string{"fake.example"}
			if f.tls != nil && !msg.tls {
				lines = append(lines, "STARTTLS")
			}
			if f.auth {
				lines = append(lines, "AUTH PLAIN")
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				r += "250" + sep + l
				if i < len(lines)-1 {
					r += "\r\n"
				}
			}
		case "HELO", "RSET", "NOOP":
			r = "250 OK"
		case "STARTTLS":
			if f.tls == nil || msg.tls {
				r = "502 5.5.1 no"
				break
			}
			if !reply("220 2.0.0 go ahead") {
				return
			}
			tc := tls.Server(conn, f.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			tp = textproto.NewConn(tc)
			msg = fakeMessage{tls: true}
			continue
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			b, err := base64.StdEncoding.DecodeString(resp)
			if !f.auth || !strings.EqualFold(mech, "PLAIN") || err != nil {
				r = "504 5.5.4 unsupported"
				break
			}
			msg.auth = string(b)
			r = "235 2.7.0 authenticated"
		case "MAIL":
			msg.from = arg
			r = "250 OK"
		case "RCPT":
			msg.to = append(msg.to, arg)
			r = "250 OK"
		case "DATA":
			if !reply("354 go ahead") {
				return
			}
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			msg.data = strings.ReplaceAll(string(data), "\n", "\r\n") // as it was sent
			r = "250 OK queued"
			if f.dataReply != nil {
				r = f.dataReply(data)
			}
			if strings.HasPrefix(r, "250") {
				f.mu.Lock()
				f.messages = append(f.messages, msg)
				f.mu.Unlock()
			}
			msg = fakeMessage{tls: msg.tls, auth: msg.auth}
		case "QUIT":
			leave() // before the reply: the client frees its slot after reading it
			reply("221 2.0.0 bye")
			return
		default:
			r = "502 5.5.2 unknown command"
		}
		if !reply(r) {
			return
		}
	}
}

// received returns the messages accepted so far.
func (f *fakeSMTP) received() []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeMessage(nil), f.messages...)
}

// counts returns the number of sessions so far, and the most that were connected at once.
func (f *fakeSMTP) counts() (sessions, maxActive int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions, f.maxActive
}

// testCert is a self-signed certificate for 127.0.0.1 and localhost.
type testCert struct {
	cert    tls.Certificate
	pool    *x509.CertPool // trusts cert
	certPEM []byte
	keyPEM  []byte
}

func newTestCert(t *testing.T) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtpmail test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	c := testCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pool:    x509.NewCertPool(),
	}
	c.cert, err = tls.X509KeyPair(c.certPEM, c.keyPEM)
	require.NoError(t, err)
	require.True(t, c.pool.AppendCertsFromPEM(c.certPEM))
	return c
}
