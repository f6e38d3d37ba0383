// A Bouncy Castle CMS peer for tests/interop_bc.rs: verifies and makes SignedData, opens and
// makes (Auth)EnvelopedData, with Bouncy Castle's own code paths (no OpenSSL anywhere).
//
// Compiled by the test against Debian's /usr/share/java/bc{prov,pkix,util}.jar. It reads one
// job a line on stdin (fields separated by TABs) and answers each with one line on stdout:
// `OK key=value ...` or `REFUSED <exception>: <message>`, so one JVM serves a whole test.
//
//   verify  SIG CONTENT|- ANCHOR.pem EXTRA.pem|- OUT|-
//   decrypt ENV CERT.pem KEY.pem OUT
//   sign    CONTENT CERT.pem KEY.pem CHAIN.pem|- sha1|sha256|sha384|sha512 detached|attached
//           der|ber certs|nocerts attrs|noattrs OUT
//   encrypt CONTENT CERT.pem aes128|aes192|aes256|aes128gcm|aes256gcm|des3 oaep|pkcs1|ecdh
//           der|ber OUT

import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.MGF1ParameterSpec;
import java.util.*;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.*;
import org.bouncycastle.cms.jcajce.*;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.jcajce.JcaAlgorithmParametersConverter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.operator.jcajce.JcaDigestCalculatorProviderBuilder;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.util.Store;

public final class CmsCheck {
    private static final String BC = "BC";

    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            String answer;
            try {
                answer = "OK " + run(f);
            } catch (Throwable e) {
                Throwable root = e;
                while (root.getCause() != null && root.getCause() != root) {
                    root = root.getCause();
                }
                answer = "REFUSED " + e.getClass().getSimpleName() + ": " + e.getMessage()
                        + (root != e ? " (" + root.getClass().getSimpleName() + ": "
                                + root.getMessage() + ")" : "");
            }
            out.println(answer.replace('\n', ' ').replace('\r', ' '));
        }
    }

    private static String run(String[] f) throws Exception {
        switch (f[0]) {
            case "verify": return verify(f[1], f[2], f[3], f[4], f[5]);
            case "decrypt": return decrypt(f[1], f[2], f[3], f[4]);
            case "sign": return sign(f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]);
            case "encrypt": return encrypt(f[1], f[2], f[3], f[4], f[5], f[6]);
            default: throw new IllegalArgumentException("unknown job " + f[0]);
        }
    }

    private static byte[] read(String path) throws IOException {
        return Files.readAllBytes(Paths.get(path));
    }

    private static List<X509Certificate> certs(String pem) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        if (pem.equals("-")) {
            return out;
        }
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter().setProvider(BC);
        try (PEMParser p = new PEMParser(new FileReader(pem))) {
            Object o;
            while ((o = p.readObject()) != null) {
                out.add(conv.getCertificate((X509CertificateHolder) o));
            }
        }
        return out;
    }

    private static PrivateKey key(String pem) throws Exception {
        try (PEMParser p = new PEMParser(new FileReader(pem))) {
            Object o = p.readObject();
            JcaPEMKeyConverter conv = new JcaPEMKeyConverter().setProvider(BC);
            if (o instanceof PEMKeyPair) {
                return conv.getKeyPair((PEMKeyPair) o).getPrivate();
            }
            return conv.getPrivateKey((PrivateKeyInfo) o);
        }
    }

    private static String verify(String sigPath, String contentPath, String anchorPem,
            String extraPem, String outPath) throws Exception {
        byte[] sig = read(sigPath);
        CMSSignedData sd = contentPath.equals("-")
                ? new CMSSignedData(sig)
                : new CMSSignedData(new CMSProcessableByteArray(read(contentPath)), sig);
        Store<X509CertificateHolder> carried = sd.getCertificates();
        List<X509Certificate> extra = certs(extraPem);
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter().setProvider(BC);
        Collection<SignerInformation> signers = sd.getSignerInfos().getSigners();
        if (signers.isEmpty()) {
            throw new CMSException("no signers");
        }
        StringBuilder sb = new StringBuilder();
        for (SignerInformation si : signers) {
            X509Certificate signer = null;
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> matches = carried.getMatches(si.getSID());
            for (X509CertificateHolder h : matches) {
                signer = conv.getCertificate(h);
            }
            for (X509Certificate c : extra) {
                if (signer == null && si.getSID().match(new X509CertificateHolder(c.getEncoded()))) {
                    signer = c;
                }
            }
            if (signer == null) {
                throw new CMSException("signer certificate not found");
            }
            if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider(BC).build(signer))) {
                throw new CMSException("signature does not verify");
            }
            // The chain, with the JDK's PKIX (revocation is not what this peer is asked).
            List<X509Certificate> pool = new ArrayList<>(extra);
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> all = carried.getMatches(null);
            for (X509CertificateHolder h : all) {
                pool.add(conv.getCertificate(h));
            }
            X509CertSelector target = new X509CertSelector();
            target.setCertificate(signer);
            PKIXBuilderParameters params = new PKIXBuilderParameters(
                    Collections.singleton(new TrustAnchor(certs(anchorPem).get(0), null)), target);
            params.setRevocationEnabled(false);
            params.addCertStore(CertStore.getInstance("Collection",
                    new CollectionCertStoreParameters(pool)));
            CertPathBuilder.getInstance("PKIX").build(params);
            sb.append("signer=").append(signer.getSubjectX500Principal().getName().replace(' ', '_'))
                    .append(" digest=").append(si.getDigestAlgOID())
                    .append(" sigalg=").append(si.getEncryptionAlgOID())
                    .append(" attrs=").append(si.getSignedAttributes() != null);
        }
        if (!outPath.equals("-")) {
            Object content = sd.getSignedContent() == null ? null : sd.getSignedContent().getContent();
            Files.write(Paths.get(outPath), content == null ? new byte[0] : (byte[]) content);
        }
        return sb.toString();
    }

    private static String decrypt(String envPath, String certPem, String keyPem, String outPath)
            throws Exception {
        byte[] der = read(envPath);
        X509Certificate cert = certs(certPem).get(0);
        PrivateKey key = key(keyPem);
        org.bouncycastle.asn1.cms.ContentInfo ci =
                org.bouncycastle.asn1.cms.ContentInfo.getInstance(
                        org.bouncycastle.asn1.ASN1Primitive.fromByteArray(der));
        RecipientInformationStore store;
        String cipher;
        String type;
        if (ci.getContentType().equals(PKCSObjectIdentifiers.id_ct_authEnvelopedData)) {
            CMSAuthEnvelopedData env = new CMSAuthEnvelopedData(der);
            store = env.getRecipientInfos();
            cipher = org.bouncycastle.asn1.cms.AuthEnvelopedData.getInstance(ci.getContent())
                    .getAuthEncryptedContentInfo().getContentEncryptionAlgorithm().getAlgorithm()
                    .getId();
            type = "auth-enveloped-data";
        } else {
            CMSEnvelopedData env = new CMSEnvelopedData(der);
            store = env.getRecipientInfos();
            cipher = env.getEncryptionAlgOID();
            type = "enveloped-data";
        }
        RecipientInformation ri = store.get(new JceKeyTransRecipientId(cert));
        Recipient recipient;
        if (ri != null) {
            recipient = new JceKeyTransEnvelopedRecipient(key).setProvider(BC);
        } else {
            ri = store.get(new JceKeyAgreeRecipientId(cert));
            if (ri == null) {
                throw new CMSException("no recipient info for this certificate");
            }
            recipient = new JceKeyAgreeEnvelopedRecipient(key).setProvider(BC);
        }
        byte[] content = ri.getContent(recipient);
        Files.write(Paths.get(outPath), content);
        return "type=" + type + " cipher=" + cipher + " keyalg=" + ri.getKeyEncryptionAlgOID();
    }

    private static ASN1ObjectIdentifier cipherOid(String name) {
        switch (name) {
            case "aes128": return CMSAlgorithm.AES128_CBC;
            case "aes192": return CMSAlgorithm.AES192_CBC;
            case "aes256": return CMSAlgorithm.AES256_CBC;
            case "aes128gcm": return CMSAlgorithm.AES128_GCM;
            case "aes256gcm": return CMSAlgorithm.AES256_GCM;
            case "des3": return CMSAlgorithm.DES_EDE3_CBC;
            default: throw new IllegalArgumentException("unknown cipher " + name);
        }
    }

    private static String sign(String contentPath, String certPem, String keyPem, String chainPem,
            String digest, String mode, String encoding, String withCerts, String withAttrs,
            String outPath) throws Exception {
        byte[] content = read(contentPath);
        X509Certificate cert = certs(certPem).get(0);
        PrivateKey key = key(keyPem);
        String keyAlg = key.getAlgorithm().startsWith("EC") ? "ECDSA" : "RSA";
        String alg = digest.toUpperCase(Locale.ROOT) + "with" + keyAlg;
        JcaSignerInfoGeneratorBuilder sib = new JcaSignerInfoGeneratorBuilder(
                new JcaDigestCalculatorProviderBuilder().setProvider(BC).build());
        if (withAttrs.equals("noattrs")) {
            sib.setDirectSignature(true);
        }
        SignerInfoGenerator sig = sib.build(
                new JcaContentSignerBuilder(alg).setProvider(BC).build(key), cert);
        List<X509Certificate> all = new ArrayList<>();
        if (withCerts.equals("certs")) {
            all.add(cert);
            all.addAll(certs(chainPem));
        }
        boolean attached = mode.equals("attached");
        byte[] out;
        if (encoding.equals("ber")) {
            // The streaming generator writes indefinite lengths throughout.
            CMSSignedDataStreamGenerator gen = new CMSSignedDataStreamGenerator();
            gen.addSignerInfoGenerator(sig);
            if (!all.isEmpty()) {
                gen.addCertificates(new JcaCertStore(all));
            }
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (OutputStream os = gen.open(bos, attached)) {
                os.write(content);
            }
            out = bos.toByteArray();
        } else {
            CMSSignedDataGenerator gen = new CMSSignedDataGenerator();
            gen.addSignerInfoGenerator(sig);
            if (!all.isEmpty()) {
                gen.addCertificates(new JcaCertStore(all));
            }
            out = gen.generate(new CMSProcessableByteArray(content), attached).getEncoded("DER");
        }
        Files.write(Paths.get(outPath), out);
        return "bytes=" + out.length;
    }

    private static String encrypt(String contentPath, String certPem, String cipherName,
            String transport, String encoding, String outPath) throws Exception {
        byte[] content = read(contentPath);
        X509Certificate cert = certs(certPem).get(0);
        ASN1ObjectIdentifier cipher = cipherOid(cipherName);
        RecipientInfoGenerator rig;
        switch (transport) {
            case "oaep": {
                AlgorithmIdentifier oaep = new JcaAlgorithmParametersConverter()
                        .getAlgorithmIdentifier(PKCSObjectIdentifiers.id_RSAES_OAEP,
                                new OAEPParameterSpec("SHA-1", "MGF1", MGF1ParameterSpec.SHA1,
                                        PSource.PSpecified.DEFAULT));
                rig = new JceKeyTransRecipientInfoGenerator(cert, oaep).setProvider(BC);
                break;
            }
            case "pkcs1":
                rig = new JceKeyTransRecipientInfoGenerator(cert).setProvider(BC);
                break;
            case "ecdh": {
                KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", BC);
                kpg.initialize(((java.security.interfaces.ECPublicKey) cert.getPublicKey()).getParams());
                KeyPair eph = kpg.generateKeyPair();
                ASN1ObjectIdentifier wrap = cipherName.endsWith("256") || cipherName.equals("aes256gcm")
                        ? CMSAlgorithm.AES256_WRAP : CMSAlgorithm.AES128_WRAP;
                rig = new JceKeyAgreeRecipientInfoGenerator(CMSAlgorithm.ECDH_SHA256KDF,
                        eph.getPrivate(), eph.getPublic(), wrap)
                        .addRecipient(cert).setProvider(BC);
                break;
            }
            default: throw new IllegalArgumentException("unknown key transport " + transport);
        }
        byte[] out;
        boolean aead = cipherName.endsWith("gcm");
        if (aead) {
            if (encoding.equals("ber")) {
                throw new IllegalArgumentException("no streaming AuthEnvelopedData generator here");
            }
            CMSAuthEnvelopedDataGenerator gen = new CMSAuthEnvelopedDataGenerator();
            gen.addRecipientInfoGenerator(rig);
            out = gen.generate(new CMSProcessableByteArray(content),
                    (org.bouncycastle.operator.OutputAEADEncryptor)
                            new JceCMSContentEncryptorBuilder(cipher).setProvider(BC).build())
                    .toASN1Structure().getEncoded("DER");
        } else if (encoding.equals("ber")) {
            CMSEnvelopedDataStreamGenerator gen = new CMSEnvelopedDataStreamGenerator();
            gen.addRecipientInfoGenerator(rig);
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            try (OutputStream os = gen.open(bos,
                    new JceCMSContentEncryptorBuilder(cipher).setProvider(BC).build())) {
                os.write(content);
            }
            out = bos.toByteArray();
        } else {
            CMSEnvelopedDataGenerator gen = new CMSEnvelopedDataGenerator();
            gen.addRecipientInfoGenerator(rig);
            out = gen.generate(new CMSProcessableByteArray(content),
                    new JceCMSContentEncryptorBuilder(cipher).setProvider(BC).build())
                    .toASN1Structure().getEncoded("DER");
        }
        Files.write(Paths.get(outPath), out);
        return "bytes=" + out.length;
    }
}
