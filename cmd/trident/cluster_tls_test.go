package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeSelfSigned writes a certificate for 127.0.0.1 and its key as PEM.
func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "trident e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// The server with TLS and a token; a worker and a run that trust its CA.
func TestClusterTLSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	srv := exec.Command(tridentBin, "cluster", "server", "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--token", "t0k")
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if i := strings.Index(sc.Text(), "tls://"); i >= 0 {
				urlCh <- sc.Text()[i:]
			}
		}
		srv.Wait()
		close(done)
	}()
	defer func() { srv.Process.Signal(syscall.SIGTERM); <-done }()
	var url string
	select {
	case url = <-urlCh:
	case <-time.After(30 * time.Second):
		t.Fatal("TLS server did not start")
	}
	w := exec.Command(tridentBin, "worker", "--cluster", url, "--token", "t0k", "--tls-ca", cert, "-j", "1")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	wdone := make(chan struct{})
	go func() { w.Wait(); close(wdone) }()
	defer func() { w.Process.Signal(syscall.SIGTERM); <-wdone }()

	t.Setenv("TRIDENT_CLUSTER_TOKEN", "t0k")
	t.Setenv("TRIDENT_CLUSTER_TLS_CA", cert)
	stdout, errOut, code := runTrident(t, "", "run", "--cluster", url, "echo secure {}", ":::", "1")
	if code != 0 || stdout != "secure 1\n" {
		t.Fatalf("run over TLS: exit %d out %q err %q", code, stdout, errOut)
	}
	t.Setenv("TRIDENT_CLUSTER_TLS_CA", "")
	// Without the CA the server's certificate is not trusted.
	_, errOut, code = runTrident(t, "", "cluster", "status", "--cluster", url, "--connect-timeout", "2s")
	if code != 1 || !strings.Contains(errOut, "TLS") || !strings.Contains(errOut, "certificate") {
		t.Fatalf("untrusted TLS: exit %d err %q", code, errOut)
	}
	t.Logf("untrusted certificate: %s", errOut)
}
