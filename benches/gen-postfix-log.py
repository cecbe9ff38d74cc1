#!/usr/bin/env python3
"""Writes a synthetic Postfix mail log of N lines to stdout, for benches/logs.sh.

Each message is logged the way Postfix logs it: smtpd connect and client=, cleanup
message-id=, qmgr from=, one smtp delivery line per recipient (about 84 % sent, 10 %
deferred, 6 % bounced, with the reasons of real logs), qmgr removed, smtpd disconnect.
Destination domains follow a Zipf-like law over 3,000 domains; the output is the same
for the same N (fixed seed).
"""
import random
import sys

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
rng = random.Random(20261130)
DOMAINS = [f"d{i:04d}.example" for i in range(3000)]
WEIGHTS = [1.0 / (i + 1) for i in range(len(DOMAINS))]
USERS = [f"user{i:05d}" for i in range(20000)]
# Each domain's MX has one address, as in real logs.
IPS = {d: f"192.0.2.{1 + i % 254}" for i, d in enumerate(DOMAINS)}

DEFERRED = [
    (0.30, "4.2.0", "host mx.{d}[{ip}] said: 450 4.2.0 <{r}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{d}.html (in reply to RCPT TO command)"),
    (0.30, "4.4.1", "connect to mx.{d}[{ip}]:25: Connection timed out"),
    (0.10, "4.4.3", "Host or domain name not found. Name service error for name={d} type=MX: Host not found, try again"),
    (0.10, "4.7.0", "host mx.{d}[{ip}] said: 421 4.7.0 [{ip}] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. (in reply to end of data command)"),
    (0.10, "4.7.5", "TLS is required, but was not offered by host mx.{d}[{ip}]"),
    (0.10, "4.2.2", "host mx.{d}[{ip}] said: 452 4.2.2 <{r}>: Mailbox is full (in reply to RCPT TO command)"),
]
BOUNCED = [
    (0.45, "5.1.1", "host mx.{d}[{ip}] said: 550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"),
    (0.15, "5.4.4", "Host or domain name not found. Name service error for name={d} type=A: Host not found"),
    (0.15, "5.7.1", "host mx.{d}[{ip}] said: 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5 (in reply to RCPT TO command)"),
    (0.15, "5.7.26", "host mx.{d}[{ip}] said: 550-5.7.26 Unauthenticated email from example.net is not accepted due to domain's 550 5.7.26 DMARC policy. (in reply to end of data command)"),
    (0.10, "5.2.2", "host mx.{d}[{ip}] said: 552 5.2.2 <{r}>: Mailbox full (in reply to RCPT TO command)"),
]


def pick(table):
    x = rng.random()
    for weight, dsn, text in table:
        x -= weight
        if x <= 0:
            return dsn, text
    return table[-1][1], table[-1][2]


out = sys.stdout
written = 0
second = 0
queue = 0x100000
pid = 2000
while written < N:
    second += rng.randint(0, 2)
    h, m, s = (second // 3600) % 24, (second // 60) % 60, second % 60
    day = 1 + (second // 86400) % 28
    stamp = f"Nov {day:2d} {h:02d}:{m:02d}:{s:02d} mail"
    queue += rng.randint(1, 9)
    qid = f"{queue:X}"
    client = f"198.51.100.{rng.randint(1, 254)}"
    lines = [
        f"{stamp} postfix/smtpd[{pid}]: connect from client.example.net[{client}]",
        f"{stamp} postfix/smtpd[{pid}]: {qid}: client=client.example.net[{client}], sasl_method=PLAIN, sasl_username=alice",
        f"{stamp} postfix/cleanup[{pid + 1}]: {qid}: message-id=<{qid}.{second}@example.net>",
        f"{stamp} postfix/qmgr[900]: {qid}: from=<alice@example.net>, size={rng.randint(900, 90000)}, nrcpt=1 (queue active)",
    ]
    d = rng.choices(DOMAINS, WEIGHTS)[0]
    r = f"{rng.choice(USERS)}@{d}"
    ip = IPS[d]
    x = rng.random()
    if x < 0.84:
        lines.append(f"{stamp} postfix/smtp[{pid + 2}]: {qid}: to=<{r}>, relay=mx.{d}[{ip}]:25, delay=0.9, delays=0.1/0.01/0.3/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {queue + 7:X})")
        lines.append(f"{stamp} postfix/qmgr[900]: {qid}: removed")
    elif x < 0.94:
        dsn, text = pick(DEFERRED)
        lines.append(f"{stamp} postfix/smtp[{pid + 2}]: {qid}: to=<{r}>, relay=mx.{d}[{ip}]:25, delay=30, delays=0.1/0/30/0, dsn={dsn}, status=deferred ({text.format(d=d, ip=ip, r=r)})")
    else:
        dsn, text = pick(BOUNCED)
        lines.append(f"{stamp} postfix/smtp[{pid + 2}]: {qid}: to=<{r}>, relay=mx.{d}[{ip}]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn={dsn}, status=bounced ({text.format(d=d, ip=ip, r=r)})")
        lines.append(f"{stamp} postfix/bounce[{pid + 3}]: {qid}: sender non-delivery notification: {queue + 5:X}")
        lines.append(f"{stamp} postfix/qmgr[900]: {qid}: removed")
    lines.append(f"{stamp} postfix/smtpd[{pid}]: disconnect from client.example.net[{client}] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8")
    pid = 2000 + (pid + 7) % 30000
    for line in lines:
        if written == N:
            break
        out.write(line)
        out.write("\n")
        written += 1
