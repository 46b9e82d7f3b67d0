package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trident test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	s := newServer(t, ServerOptions{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, Token: "tok"})
	if !strings.HasPrefix(s.URL(), "tls://") {
		t.Fatalf("URL %s", s.URL())
	}
	conn := connect(t, ConnectOptions{URL: s.URL(), Token: "tok", TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	serveInProcess(t, conn, WithConcurrency(2))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)
	if v, err := square.Submit(ex, ctx, 12).Result(ctx); err != nil || v != 144 {
		t.Fatalf("over TLS: %v %v", v, err)
	}
	// A client that does not trust the certificate is refused.
	_, err := Connect(context.Background(), ConnectOptions{URL: s.URL(), Token: "tok", Timeout: 2 * time.Second})
	if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	// A plain client against a TLS server, and a TLS client against a plain one.
	_, err = Connect(context.Background(), ConnectOptions{URL: strings.Replace(s.URL(), "tls://", "nats://", 1), Token: "tok", Timeout: 2 * time.Second})
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("plain client, TLS server: %v", err)
	}
	plain := newServer(t, ServerOptions{})
	_, err = Connect(context.Background(), ConnectOptions{URL: plain.URL(), TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Timeout: 2 * time.Second})
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("TLS client, plain server: %v", err)
	}
}
