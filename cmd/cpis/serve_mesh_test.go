package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cpis/batch/access/httpapi"
)

// testCert is a certificate and its key, in PEM files and for crypto/tls.
type testCert struct {
	cert     *x509.Certificate
	key      *ecdsa.PrivateKey
	certFile string
	keyFile  string
	pair     tls.Certificate
}

// issue makes a certificate named cn signed by parent (self-signed when
// parent is nil, then a CA) and writes it to dir.
func issue(t *testing.T, dir, cn string, parent *testCert, usage x509.ExtKeyUsage) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.KeyUsage = true, x509.KeyUsageCertSign|x509.KeyUsageDigitalSignature
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{cert: cert, key: key, certFile: filepath.Join(dir, cn+".crt"), keyFile: filepath.Join(dir, cn+".key")}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	if err := os.WriteFile(c.certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.pair, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListenMeshRefuses(t *testing.T) {
	dir := t.TempDir()
	ca := issue(t, dir, "ca", nil, 0)
	for _, tc := range []struct {
		name  string
		o     meshServeOptions
		tls   httpapi.Options
		usage bool
		msg   string
	}{
		{"plain HTTP off loopback", meshServeOptions{addr: "0.0.0.0:0"}, httpapi.Options{}, false, "only on a loopback address"},
		{"plain HTTP on a name", meshServeOptions{addr: "hub.example:0"}, httpapi.Options{}, false, "only on a loopback address"},
		{"client CA without TLS", meshServeOptions{addr: "127.0.0.1:0", clientCA: ca.certFile}, httpapi.Options{}, true, "needs TLS"},
		{"client CA without --mesh", meshServeOptions{clientCA: ca.certFile}, httpapi.Options{}, true, "needs --mesh"},
		{"certificate without key", meshServeOptions{addr: "127.0.0.1:0"}, httpapi.Options{CertFile: ca.certFile}, true, "both --tls-cert and --tls-key"},
		{"client CA not PEM", meshServeOptions{addr: "127.0.0.1:0", clientCA: ca.keyFile}, httpapi.Options{CertFile: ca.certFile, KeyFile: ca.keyFile}, false, "holds no PEM certificate"},
	} {
		l, err := listenMesh(tc.o, tc.tls)
		if l != nil {
			l.Close()
		}
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tc.msg) || errors.As(err, &ue) != tc.usage {
			t.Errorf("%s: %v, want %q (usage error: %v)", tc.name, err, tc.msg, tc.usage)
		}
	}
	if l, err := listenMesh(meshServeOptions{}, httpapi.Options{}); l != nil || err != nil {
		t.Errorf("no --mesh: %v %v, want nothing", l, err)
	}
}

// With --mesh-client-ca only a client whose certificate that CA signed
// gets an answer.
func TestListenMeshMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := issue(t, dir, "ca", nil, 0)
	server := issue(t, dir, "server", ca, x509.ExtKeyUsageServerAuth)
	client := issue(t, dir, "client", ca, x509.ExtKeyUsageClientAuth)
	rogueCA := issue(t, dir, "rogue-ca", nil, 0)
	rogue := issue(t, dir, "rogue", rogueCA, x509.ExtKeyUsageClientAuth)

	l, err := listenMesh(meshServeOptions{addr: "127.0.0.1:0", clientCA: ca.certFile}, httpapi.Options{CertFile: server.certFile, KeyFile: server.keyFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	get := func(certs ...tls.Certificate) error {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + l.Addr().String() + "/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := get(client.pair); err != nil {
		t.Errorf("client certificate signed by the CA: %v", err)
	}
	if err := get(); err == nil {
		t.Error("no client certificate: answered")
	}
	if err := get(rogue.pair); err == nil {
		t.Error("client certificate of another CA: answered")
	}
}
