import DroverTrust
import Foundation
import Logging
import Testing
import X509
@testable import DroverCoordinator

/// The CA the coordinator makes for itself, the server certificates it signs, and their files.
@Suite struct GeneratedTLSTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let names = ServerNames.required(listenHost: "0.0.0.0", extra: ["drover.internal"], interfaces: [IPAddress("10.0.0.5")!], hostname: "node-a")

    @Test func theCAIsALongLivedP256AuthorityThatSignsServerCertificatesForTheNames() throws {
        let authority = try CertificateAuthority.generate(now: Self.now)
        #expect(try authority.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(authority.certificate.notValidAfter > Self.now + 9 * 365 * 86_400)
        #expect(authority.certificate.signatureAlgorithm == .ecdsaWithSHA256)
        let (server, _) = try authority.issueServerCertificate(for: Self.names, now: Self.now)
        #expect(server.issuer == authority.certificate.subject)
        #expect(authority.certificate.publicKey.isValidSignature(server.signature, for: server))
        #expect(try ServerNames(of: server) == Self.names)
        #expect(try server.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(authority.stillServes(server, names: Self.names, now: Self.now))
    }

    @Test func aServerCertificateIsRemadeForNewNamesAnotherCAOrNearItsEnd() throws {
        let authority = try CertificateAuthority.generate(now: Self.now)
        let (server, _) = try authority.issueServerCertificate(for: Self.names, now: Self.now)
        var wider = Self.names
        wider.add("10.0.0.99")
        #expect(!authority.stillServes(server, names: wider, now: Self.now))
        #expect(!(try CertificateAuthority.generate(now: Self.now)).stillServes(server, names: Self.names, now: Self.now))
        #expect(!authority.stillServes(server, names: Self.names, now: server.notValidAfter - 86_400))
        #expect(authority.stillServes(server, names: Self.names, now: server.notValidAfter - 60 * 86_400))
    }

    @Test func theFilesAreWrittenOwnerOnlyAndReusedTheCAKeptWhenTheNamesChange() throws {
        let data = NSTemporaryDirectory() + "drover-tls-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let files = GeneratedTLS(dataDirectory: data)
        // Given a first start, the CA and a server certificate are made, each file mode 0600,
        let first = try files.prepare(names: Self.names, now: Self.now, logger: Self.quiet)
        for path in [files.caCertificatePath, files.caKeyPath, files.serverCertificatePath, files.serverKeyPath] {
            #expect((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) == 0o600, "\(path)")
        }
        #expect((try FileManager.default.attributesOfItem(atPath: files.directory)[.posixPermissions] as? Int) == 0o700)
        #expect(try FileManager.default.contentsOfDirectory(atPath: files.directory).sorted() == ["ca.key", "ca.pem", "server.key", "server.pem"])
        #expect(first.pin == (try CAPin(ofPEM: first.caPEM)))
        #expect(!first.caPEM.contains("PRIVATE KEY"))
        let server = try String(contentsOfFile: files.serverCertificatePath, encoding: .utf8)
        // a later start with the same names reuses both,
        let again = try files.prepare(names: Self.names, now: Self.now + 86_400, logger: Self.quiet)
        #expect(again.pin == first.pin && again.caPEM == first.caPEM)
        #expect(try String(contentsOfFile: files.serverCertificatePath, encoding: .utf8) == server)
        // and one that must answer to another name keeps the CA (and the pin agents hold) but remakes the server certificate.
        var wider = Self.names
        wider.add("drover2.internal")
        let widened = try files.prepare(names: wider, now: Self.now + 86_400, logger: Self.quiet)
        #expect(widened.pin == first.pin)
        let remade = try Certificate(pemEncoded: String(contentsOfFile: files.serverCertificatePath, encoding: .utf8))
        #expect(try ServerNames(of: remade).covers(wider))
    }

    @Test func aDamagedCAIsRefusedSayingHowToRecover() throws {
        let data = NSTemporaryDirectory() + "drover-tls-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let files = GeneratedTLS(dataDirectory: data)
        _ = try files.prepare(names: Self.names, now: Self.now, logger: Self.quiet)
        try GeneratedTLS.writePrivately("not a key", to: files.caKeyPath)
        #expect {
            try files.prepare(names: Self.names, now: Self.now, logger: Self.quiet)
        } throws: { error in
            "\(error)".contains("cannot read the coordinator's CA") && "\(error)".contains("remove \(files.directory) to make a new CA")
        }
    }

    @Test func theJoinCommandCarriesThePinButNoSecret() throws {
        let pin = try CAPin(parsing: "sha256:" + String(repeating: "5a", count: 32))
        var configuration = CoordinatorConfiguration()
        configuration.dataDirectory = "/var/lib/drover"
        configuration.adminToken = "the-admin-secret"
        let listening = Listening(host: "0.0.0.0", port: 7443, scheme: "https", caPin: pin)
        let generated = JoinInstructions.lines(for: listening, configuration: configuration, hostname: "coord-1")
        #expect(generated.last == "join an agent: drover agent --coordinator https://coord-1:7443 --ca-pin \(pin) --join-token \"$(cat /var/lib/drover/join.token)\"")
        configuration.joinToken = "the-join-secret"
        let given = JoinInstructions.lines(for: Listening(host: "10.0.0.5", port: 7443, scheme: "https", caPin: pin), configuration: configuration, hostname: "coord-1")
        #expect(given.last == "join an agent: drover agent --coordinator https://10.0.0.5:7443 --ca-pin \(pin) --join-token \"$DROVER_JOIN_TOKEN\"")
        for line in generated + given { #expect(!line.contains("secret")) }
        #expect(JoinInstructions.lines(for: Listening(host: "127.0.0.1", port: 7070, scheme: "http", caPin: nil), configuration: configuration, hostname: "c").isEmpty)
    }
}
