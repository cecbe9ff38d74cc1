# rbldnsd data for the lab copy of psbl.surriel.com, served by rbldnsd on 127.0.0.1/5302
# (unbound on 127.0.0.153 stubs the zone there). Format: rbldnsd(8), "combined"
# dataset; ":A:TXT" sets the answer, "$" in a TXT is replaced by the queried IP.
# 127.0.0.1 is never listed. Scenario list: docs/lab.md.
$SOA 300 ns.test. hostmaster.test. 0 600 300 86400 60
$TTL 300
$DATASET ip4set:psbl @
:127.0.0.2:Listed in PSBL, see https://psbl.org/listing?ip=$
127.0.0.2
