import Testing
@testable import DroverCoordinator

/// Stored token hashes must stay what earlier versions wrote: lowercase hex SHA-256.
@Suite struct TokenHashTests {
    @Test func hexIsTheLowercaseSHA256OfTheToken() {
        #expect(TokenHash.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(TokenHash.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
