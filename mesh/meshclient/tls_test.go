package meshclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cpis/mesh/meshclient"
)

// cert is a certificate and its key, signed by parent (self-signed when
// nil).
type cert struct {
	x   *x509.Certificate
	key *ecdsa.PrivateKey
	der []byte
}

func newCert(t *testing.T, name string, parent *cert, server bool) *cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	switch {
	case parent == nil:
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	case server:
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []net.IP{net.ParseIP("127.0.0.1")}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.x, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &cert{x: x, key: key, der: der}
}

// write writes the certificate and key as PEM files in dir.
func (c *cert) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	kb, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Over mutual TLS: MESH's certificate is checked against the CA file,
// and the client certificate is presented; without them the connection
// fails.
func TestTLS(t *testing.T) {
	e := newEnv(t)
	ca := newCert(t, "Test MESH CA", nil, false)
	srvCert := newCert(t, "127.0.0.1", ca, true)
	clientCert := newCert(t, "cpis hub", ca, false)
	pool := x509.NewCertPool()
	pool.AddCert(ca.x)
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.der}, PrivateKey: srvCert.key}},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	caFile, _ := ca.write(t, dir, "ca")
	certFile, keyFile := clientCert.write(t, dir, "client")
	client := func(tc *tls.Config) *meshclient.Client {
		c, err := meshclient.New(meshclient.Config{URL: srv.URL, Mailbox: hubBox, Password: hubPW, SharedKey: sharedKey, TLS: tc,
			Retries: -1, Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tc, err := meshclient.TLSConfig(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := client(tc).Handshake(context.Background()); err != nil {
		t.Fatalf("handshake over mutual TLS: %v", err)
	}

	noCert, err := meshclient.TLSConfig("", "", caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := client(noCert).Handshake(context.Background()); err == nil {
		t.Error("handshake without a client certificate: no error")
	}
	system, err := meshclient.TLSConfig(certFile, keyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := client(system).Handshake(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("handshake with a server certificate of an unknown CA: %v", err)
	}
	if _, err := meshclient.TLSConfig(certFile, "", ""); err == nil {
		t.Error("a certificate without its key: no error")
	}
}
