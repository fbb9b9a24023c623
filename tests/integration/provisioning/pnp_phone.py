"""A scripted phone for the namespace test: multicast SUBSCRIBE, print what comes back."""

from __future__ import annotations

import json
import socket
import sys

from provisioning import sip


def main() -> None:
    """argv: own IP, MAC; prints one JSON line with the 200 OK and the NOTIFY."""
    own_ip, mac = sys.argv[1], sys.argv[2]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((own_ip, 5060))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(own_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.settimeout(10)
    request = (
        f"SUBSCRIBE sip:MAC%3a{mac}@224.0.1.75 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {own_ip}:5060;branch=z9hG4bKnetns;rport\r\n"
        f"From: <sip:MAC%3a{mac}@224.0.1.75>;tag=ns\r\n"
        f"To: <sip:MAC%3a{mac}@224.0.1.75>\r\n"
        "Call-ID: netns-1\r\nCSeq: 1 SUBSCRIBE\r\n"
        f"Contact: <sip:{own_ip}:5060>\r\n"
        'Event: ua-profile;profile-type="device";vendor="Yealink";model="T54W"\r\n'
        "Expires: 0\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    sock.sendto(request, ("224.0.1.75", 5060))
    out = []
    for _ in range(2):
        data, addr = sock.recvfrom(65535)
        msg = sip.parse(data)
        out.append({"from": addr[0], "start": msg.start_line, "call_id": msg.header("call-id"),
                    "content_type": msg.header("content-type"), "body": msg.body.decode()})
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
