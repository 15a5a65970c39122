"""StackStorm's datastore crypto (st2common/util/crypto.py, cryptography backend), written from
events.md 7.6, for round-trip tests against Gale. Usage:
  st2_crypto.py KEYFILE encrypt PLAINTEXT   -> prints the hex ciphertext (random IV)
  st2_crypto.py KEYFILE decrypt CIPHERTEXT  -> prints the plaintext
"""
import base64, binascii, json, os, sys
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def b64(s):
    s = s.replace("\n", "").replace(" ", "")
    s += "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s)


def keys(path):
    d = json.load(open(path))
    return b64(d["aesKeyString"]), b64(d["hmacKey"]["hmacKeyString"])


def encrypt(path, plaintext):
    aes, mac = keys(path)
    data = plaintext.encode("utf-8")
    n = 16 - len(data) % 16
    data += bytes([n]) * n
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(aes), modes.CBC(iv), backend=default_backend()).encryptor()
    ct = enc.update(data) + enc.finalize()
    header = 5 * b"0"
    h = hmac.HMAC(mac, hashes.SHA1(), backend=default_backend())
    h.update(header + iv + ct)
    return binascii.hexlify(header + iv + ct + h.finalize()).upper().decode()


def decrypt(path, ciphertext):
    aes, mac = keys(path)
    raw = binascii.unhexlify(ciphertext)
    body = raw[5:]
    if len(body) < 36:
        raise ValueError("Invalid or malformed ciphertext (too short)")
    h = hmac.HMAC(mac, hashes.SHA1(), backend=default_backend())
    h.update(raw[:-20])
    h.verify(raw[-20:])
    iv, ct = body[:16], body[16:-20]
    dec = Cipher(algorithms.AES(aes), modes.CBC(iv), backend=default_backend()).decryptor()
    s = (dec.update(ct) + dec.finalize()).decode("utf-8")
    return s[0 : -ord(s[-1])]


if __name__ == "__main__":
    path, op, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    out = encrypt(path, arg) if op == "encrypt" else decrypt(path, arg)
    sys.stdout.write(out)
