import DroverAPI
import Testing
@testable import DroverCoordinator

/// Closed on the network by default: what the coordinator serves, by where it listens.
@Suite struct TransportTests {
    @Test(arguments: ["127.0.0.1", "127.8.9.10", "127.255.255.255", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"])
    func loopbackIsWhatNoOtherMachineReaches(_ host: String) {
        #expect(Transport.isLoopback(host: host))
    }

    @Test(arguments: ["0.0.0.0", "::", "10.0.0.5", "128.0.0.1", "126.255.255.255", "::2", "fe80::1", "::ffff:10.0.0.1", "drover.internal", "localhost.example.com"])
    func everyOtherAddressIsBeyondLoopback(_ host: String) {
        #expect(!Transport.isLoopback(host: host))
    }

    @Test func theDefaultListensOnLoopbackOverPlainHTTP() throws {
        let configuration = try CoordinatorConfiguration.resolve(flags: [:], environment: [:])
        #expect(configuration.host == "127.0.0.1" && configuration.port == 7070)
        #expect(Transport(configuration) == .loopbackHTTP)
        #expect(Transport(CoordinatorConfiguration()) == .loopbackHTTP)
    }

    @Test func beyondLoopbackItServesHTTPSUnlessToldOtherwise() throws {
        func transport(_ flags: [String: String]) throws -> Transport { Transport(try CoordinatorConfiguration.resolve(flags: flags, environment: [:])) }
        #expect(try transport(["listen": "0.0.0.0:7070"]) == .generatedCertificate)
        #expect(try transport(["listen": "10.1.2.3:7070"]) == .generatedCertificate)
        #expect(try transport(["listen": "[::]:7070"]) == .generatedCertificate)
        #expect(try transport(["listen": "0.0.0.0:7070", "insecure-http": "true"]) == .insecureHTTP)
        #expect(try transport(["listen": "127.0.0.1:7070", "insecure-http": "true"]) == .loopbackHTTP)
        #expect(try transport(["listen": "0.0.0.0:7070", "tls-cert": "/c.pem", "tls-key": "/k.pem"]) == .givenCertificate(certificate: "/c.pem", key: "/k.pem"))
        #expect(try transport(["listen": "127.0.0.1:7070", "tls-cert": "/c.pem", "tls-key": "/k.pem"]).scheme == "https")
        #expect(throws: ConfigurationError("--insecure-http serves plain HTTP and --tls-cert serves HTTPS: give one of them")) {
            try CoordinatorConfiguration.resolve(flags: ["insecure-http": "true", "tls-cert": "/c.pem", "tls-key": "/k.pem"], environment: [:])
        }
    }

    @Test func aSubjectAlternativeNameMustBeAHostNameOrAnAddress() throws {
        let configuration = try CoordinatorConfiguration.resolve(flags: ["tls-san": "drover.internal\n10.0.0.5\n*.drover.internal"], environment: [:])
        #expect(configuration.tlsSubjectAlternativeNames == ["drover.internal", "10.0.0.5", "*.drover.internal"])
        #expect(throws: ConfigurationError("--tls-san: 'https://drover.internal' is not a host name or IP address, e.g. drover.internal or 10.0.0.5")) {
            try CoordinatorConfiguration.resolve(flags: ["tls-san": "https://drover.internal"], environment: [:])
        }
    }

    @Test func onEveryAddressTheCertificateNamesEachInterfaceTheLoopbackAndTheHost() throws {
        let interfaces = ["10.0.0.5", "127.0.0.1", "fe80::1", "2001:db8::7", "::1"].map { IPAddress($0)! }
        let names = ServerNames.required(listenHost: "0.0.0.0", extra: ["Drover.Internal", "192.168.1.9"], interfaces: interfaces, hostname: "node-a")
        #expect(names.addresses == Set(["10.0.0.5", "127.0.0.1", "2001:db8::7", "::1", "192.168.1.9"].map { IPAddress($0)! }))
        #expect(names.dnsNames == ["localhost", "node-a", "drover.internal"])
        #expect(ServerNames.required(listenHost: "::", extra: [], interfaces: [], hostname: "node-a").addresses == [.loopbackV4, .loopbackV6])
    }

    @Test func onOneAddressTheCertificateNamesThatAddressAndTheExtraNames() {
        let names = ServerNames.required(listenHost: "10.0.0.5", extra: ["drover.internal"], interfaces: [IPAddress("10.0.0.6")!], hostname: "node-a")
        #expect(names.addresses == [IPAddress("10.0.0.5")!])
        #expect(names.dnsNames == ["drover.internal"])
        #expect(ServerNames.required(listenHost: "drover.internal", extra: [], interfaces: [], hostname: "node-a").dnsNames == ["drover.internal"])
    }

    @Test func namesCoverWhatTheyHoldAndNoMore() {
        let wide = ServerNames.required(listenHost: "0.0.0.0", extra: [], interfaces: [IPAddress("10.0.0.5")!], hostname: "node-a")
        #expect(wide.covers(ServerNames.required(listenHost: "10.0.0.5", extra: [], interfaces: [], hostname: "")))
        #expect(!wide.covers(ServerNames.required(listenHost: "10.0.0.6", extra: [], interfaces: [], hostname: "")))
        #expect(!wide.covers(ServerNames.required(listenHost: "0.0.0.0", extra: ["drover.internal"], interfaces: [IPAddress("10.0.0.5")!], hostname: "node-a")))
    }
}
