import Testing
@testable import DroverTrust

@Suite struct CAPinTests {
    /// Certificates made with the openssl CLI; their pins computed by kubeadm's recipe,
    /// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`.
    static let ecCertificate = """
-----BEGIN CERTIFICATE-----
MIIBgTCCASegAwIBAgIUcF/KSXSCkcQzKuP6b2zyplxiU6IwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLcGluIHRlc3QgQ0EwHhcNMjYxMjAxMTUyODAwWhcNMzYxMTI4
MTUyODAwWjAWMRQwEgYDVQQDDAtwaW4gdGVzdCBDQTBZMBMGByqGSM49AgEGCCqG
SM49AwEHA0IABFXMnCPkHbwuEfDwsnOAgp5SP8v6L/q75amYHLDXY7mJuV/5wtuI
UxJJ9Vb/o+CUUQf4B+oO0RitgleYKpU6GsGjUzBRMB0GA1UdDgQWBBSxmqJPyt58
Dk3LbiOt8WjdriQDBDAfBgNVHSMEGDAWgBSxmqJPyt58Dk3LbiOt8WjdriQDBDAP
BgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDn3WNJZS670tonlUS9
asK1/GfdZ+uNJdH1X8ADBH6BZwIgepEzl4ceXnGLe+wxBVRTF3VvrhPf6T7kfCu/
+nOLpSE=
-----END CERTIFICATE-----
"""
    static let ecPin = "sha256:ead53afb9ffe9057aaff54f58412bb7443c5ea08db4ce66c5aca59ddd0b3aed4"
    static let rsaCertificate = """
-----BEGIN CERTIFICATE-----
MIIDFTCCAf2gAwIBAgIUeZg0gm+0VY/nTiIE7T36A2FYL6owDQYJKoZIhvcNAQEL
BQAwGjEYMBYGA1UEAwwPcGluIHRlc3QgUlNBIENBMB4XDTI2MTIwMTE1MjgwMloX
DTM2MTEyODE1MjgwMlowGjEYMBYGA1UEAwwPcGluIHRlc3QgUlNBIENBMIIBIjAN
BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmFdVlLqN7ujiKfOhCthTmtIpdmu9
5dudeW060LpTjn5B0YhZgIClIkr24Vkpm858Lxsf0u1oK1aWXJm5sRKTFzI82t3o
aMNaEv9ZrMacjEqslZ56w9obu3BrW6Dgsp+hJsDzi5C+P/y0Y2Io65RvY0nbUhiJ
Ap5phW2PZ1Px4ZKbxyyw2xUZaOffmsqJDv5rBAbVuqslgtvd7i1E9mpVZbPpMkxp
f8n/xZ/sG1+2QYLx5b2NfRuzQXlNOckv39ovCrGLY6Rtcahvt8XC9iz9HEOzqvnO
7FzG5TdD37RFOYgyJoljWOZie18y1MVztBK8BkCepA3KAGcPunJ00qH99wIDAQAB
o1MwUTAdBgNVHQ4EFgQU8WIJtpKheKdaScCkvwaQFnwkPw8wHwYDVR0jBBgwFoAU
8WIJtpKheKdaScCkvwaQFnwkPw8wDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0B
AQsFAAOCAQEADt/Opxovw8ik14Mop+VkaKOCxIO1grqYBasjHTnDlzaVFILSSz3L
UrkxWDrFYy9VojoadtHKPah3IazFvXxYNAhq+8bxQ0b2MjlUHUsuFF9tVfsMHWdJ
RsIskwZ8OAEvGU0+DYbp2gmWMoNLItc1oAuLnf5ZlKLJ71TmpIBLsu0ejwqk3L+G
OQW3pm3XO3sBuwsjM5rjsagYlCYzGT72Zgy6kgnaThb6GQiZX3ArP2sWpHmdwqfZ
SvSHfnsKNn+zGwssnlHw+ZKfy1ZnLjvKUIzbfCeYYuoGWkIehIDkMd+yb5yG9tkF
EtCK76sgQJ2X0HjXe0dqF1ZBgO8KcxPn6Q==
-----END CERTIFICATE-----
"""
    static let rsaPin = "sha256:6a067c9c14a10decc80d923c8e3769b675c78007b67ead29729ab33e5d69a36f"

    @Test func thePinIsTheSHA256OfTheSubjectPublicKeyInfoAsOpensslComputesIt() throws {
        #expect(try CAPin(ofPEM: Self.ecCertificate).description == Self.ecPin)
        #expect(try CAPin(ofPEM: Self.rsaCertificate).description == Self.rsaPin)
    }

    @Test func aPinReadsBackAsWrittenInEitherCase() throws {
        let pin = try CAPin(parsing: Self.ecPin)
        #expect(pin == (try CAPin(ofPEM: Self.ecCertificate)))
        #expect(try CAPin(parsing: "sha256:" + Self.ecPin.dropFirst(7).uppercased()) == pin)
        #expect(pin.digest.count == 32)
    }

    @Test(arguments: ["", "sha256:", "ead53afb9ffe9057aaff54f58412bb7443c5ea08db4ce66c5aca59ddd0b3aed4",
                      "sha1:ead53afb9ffe9057aaff54f58412bb7443c5ea08db4ce66c5aca59ddd0b3aed4",
                      "sha256:ead53afb9ffe9057aaff54f58412bb7443c5ea08db4ce66c5aca59ddd0b3aed", // 63 digits
                      "sha256:+ad53afb9ffe9057aaff54f58412bb7443c5ea08db4ce66c5aca59ddd0b3aed4",
                      "sha256:zzd53afb9ffe9057aaff54f58412bb7443c5ea08db4ce66c5aca59ddd0b3aed4"])
    func anythingElseIsRefusedSayingWhatAPinLooksLike(_ text: String) {
        #expect {
            try CAPin(parsing: text)
        } throws: { error in
            "\(error)".contains("'\(text)' is not a CA pin: write sha256: and the 64 hex digits")
        }
    }
}
