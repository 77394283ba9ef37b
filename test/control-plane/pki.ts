/**
 * The test cluster's PKI, made with openssl (argument vectors, never a shell): one CA, a
 * serving certificate for everything on 127.0.0.1 (API server, kwok's kubelet API, the JobSet
 * and Kueue webhooks), and the service-account signing key pair. Short-lived (one day).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  saKey: string;
  saPub: string;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });

/** SANs the API server's certificate needs: loopback, and the in-cluster names pods would use. */
const SERVING_SANS = [
  "IP:127.0.0.1",
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
  // The first address of --service-cluster-ip-range (the `kubernetes` Service).
  "IP:10.96.0.1",
];

export function makePki(dir: string): Pki {
  const p = (f: string) => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "1",
    "-subj",
    "/CN=yunshi-test-ca",
  ]);
  openssl([
    "req",
    "-x509",
    ...ec,
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-keyout",
    p("serving.key"),
    "-out",
    p("serving.crt"),
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    `subjectAltName=${SERVING_SANS.join(",")}`,
    "-addext",
    "extendedKeyUsage=serverAuth",
  ]);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p("sa.key")]);
  openssl(["ec", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("serving.crt"),
    servingKey: p("serving.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}
