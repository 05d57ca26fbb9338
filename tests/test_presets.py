"""Cloud and proxy presets on lines as the vendors' documentation shows them, then made hostile.

The documented lines are AWS's examples (Classic and Application Load Balancer, S3 server access,
CloudFront standard logs) and Squid's native ``access.log``; the hostile ones add ``-`` fields,
escaped quotes, user agents with spaces, IPv6 clients, ``-1`` times and fields appended since.
"""

from __future__ import annotations

import unittest
from datetime import datetime, timezone
from typing import Optional

from monilog.parsing.parser import LogParser
from monilog.parsing.record import LogRecord, ParseError


def parse(fmt: str, line: str) -> LogRecord:
    record = LogParser(fmt).parse(line.encode())
    assert record is not None
    return record


def utc(*moment: int) -> int:
    return int(datetime(*moment, tzinfo=timezone.utc).timestamp())


class LoadBalancerTest(unittest.TestCase):
    def assertTimes(self, record: LogRecord, duration: Optional[float], upstream: Optional[float]) -> None:
        for got, expected in ((record.duration, duration), (record.upstream, upstream)):
            if expected is None:
                self.assertIsNone(got)
            else:
                self.assertAlmostEqual(got, expected)  # type: ignore[arg-type]

    def test_classic_elb_documented_lines(self) -> None:
        record = parse("elb", '2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 '
                              '0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -')
        self.assertEqual((record.host, record.method, record.target, record.section, record.status, record.size, record.vhost),
                         ("192.168.131.39", "GET", "http://www.example.com:80/", "http://www.example.com:80/", 200, 29, "www.example.com"))
        self.assertEqual(record.time, datetime(2015, 5, 13, 23, 39, 43, 945958, tzinfo=timezone.utc))
        self.assertTimes(record, 0.000073 + 0.001048 + 0.000057, 0.001048)
        record = parse("elb", '2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000086 '
                              '0.001048 0.001337 200 200 0 57 "GET https://www.example.com:443/api/v1/users?id=7 HTTP/1.1" '
                              '"curl/7.38.0" DHE-RSA-AES128-SHA TLSv1.2')
        self.assertEqual((record.section, record.vhost, record.size), ("https://www.example.com:443/api", "www.example.com", 57))

    def test_classic_elb_without_a_backend_and_a_tcp_listener(self) -> None:
        record = parse("elb", '2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 - -1 -1 -1 504 0 0 0 '
                              '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -')
        self.assertEqual(record.status, 504)
        self.assertTimes(record, None, None)
        with self.assertRaises(ParseError) as caught:  # TCP: no HTTP status, no request
            parse("elb", '2015-05-13T23:39:43.945958Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.001069 0.000028 '
                         '0.000041 - - 82 305 "- - - " "-" - -')
        self.assertEqual(caught.exception.reason, "malformed")

    def test_classic_elb_hostile_agent_target_and_ipv6_client(self) -> None:
        record = parse("elb", '2015-05-13T23:39:43.945958Z my-lb 2001:db8::1:51234 10.0.0.1:80 0.000073 -1 0.000057 '
                              '502 - 311 0 "POST https://[2001:db8::5]:443/login?next=\\"/a b\\" HTTP/1.1" '
                              '"Mozilla/5.0 (X11; Linux x86_64) \\"evil\\" -" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2')
        self.assertEqual((record.host, record.method, record.vhost, record.status, record.size),
                         ("2001:db8::1", "POST", "[2001:db8::5]", 502, 0))
        self.assertEqual(record.section, "https://[2001:db8::5]:443/login")
        self.assertTimes(record, None, None)  # one part not logged: no sum

    def test_alb_documented_lines_with_their_trailing_fields(self) -> None:
        http = ('http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 '
                '0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
                'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 '
                '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" '
                '"10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90')
        record = parse("alb", http)
        self.assertEqual((record.host, record.method, record.section, record.status, record.size, record.vhost),
                         ("192.168.131.39", "GET", "http://www.example.com:80/", 200, 366, "www.example.com"))
        self.assertEqual(record.epoch, utc(2018, 7, 2, 22, 23, 0))
        self.assertTimes(record, 0.001, 0.001)
        h2 = ('h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.1.252:48160 10.0.0.66:9000 '
              '0.000 0.002 0.000 200 200 5 257 "GET https://10.0.2.105:773/ HTTP/2.0" "curl/7.46.0" '
              'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/'
              'my-targets/73e2d6bc24d8a067 "Root=1-58337327-72bd00b0343d75b906739c42" "-" "-" 1 '
              '2018-07-02T22:22:48.364000Z "redirect" "https://example.com:80/" "-" "10.0.0.66:9000" "200" "-" "-"')
        record = parse("alb", h2)
        self.assertEqual((record.vhost, record.protocol, record.size), ("10.0.2.105", "HTTP/2.0", 257))

    def test_alb_errors_old_lines_and_malformed_requests(self) -> None:
        record = parse("alb", 'https 2026-12-01T18:46:36.123456Z app/lb/50dc 198.51.100.7:40000 - -1 -1 -1 502 - 250 277 '
                              '"GET https://Shop.Example:443/cart/items?x=\\"1\\" HTTP/1.1" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" '
                              'ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1-5" "shop.example" "arn:cert" 0 '
                              '2026-12-01T18:46:36.000000Z "forward" "-" "Target.ConnectionError" "-" "-" "-" "-"')
        self.assertEqual((record.status, record.vhost, record.section), (502, "Shop.Example", "https://Shop.Example:443/cart"))
        self.assertTimes(record, None, None)
        record = parse("alb", 'https 2016-08-10T00:10:33.145057Z app/lb/50dc 192.0.2.9:2817 10.0.0.1:80 0.086 0.048 0.037 '
                              '200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2')
        self.assertTimes(record, 0.171, 0.048)
        record = parse("alb", 'http 2026-12-01T18:46:36.123456Z app/lb/50dc 192.0.2.9:2817 - -1 -1 -1 400 - 0 272 '
                              '"- http://lb.example:80- -" "-" - - - "-" "-" "-" - 2026-12-01T18:46:36.000000Z "-" "-" "-" "-" "-" "-" "-"')
        self.assertEqual((record.status, record.vhost), (400, "lb.example"))  # a request ALB could not read: its URL is still logged


S3_OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"


class S3Test(unittest.TestCase):
    def test_documented_line(self) -> None:
        record = parse("s3", f'{S3_OWNER} DOC-EXAMPLE-BUCKET1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 {S3_OWNER} 3E57427F3EXAMPLE '
                             'REST.GET.VERSIONING - "GET /DOC-EXAMPLE-BUCKET1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - '
                             's9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 '
                             'ECDHE-RSA-AES128-GCM-SHA256 AuthHeader DOC-EXAMPLE-BUCKET1.s3.us-west-1.amazonaws.com TLSV1.2 - -')
        self.assertEqual((record.vhost, record.host, record.user, record.method, record.section, record.status, record.size),
                         ("DOC-EXAMPLE-BUCKET1", "192.0.2.3", S3_OWNER, "GET", "/DOC-EXAMPLE-BUCKET1", 200, 113))
        self.assertEqual(record.epoch, utc(2019, 2, 6, 0, 0, 38))
        self.assertAlmostEqual(record.duration, 0.007)  # type: ignore[arg-type]

    def test_dashes_escaped_quotes_agents_with_spaces_and_old_lines(self) -> None:
        record = parse("s3", f'{S3_OWNER} photos [01/Dec/2026:18:46:36 +0000] - - 3E57427F3EXAMPLE REST.GET.OBJECT '
                             'cats/a%20b.jpg "GET /photos/cats/a%20b.jpg?x=\\"1\\" HTTP/1.1" 404 NoSuchKey - - - - '
                             '"https://example.com/\\"q\\"" "aws-cli/2.13.0 Python/3.11.4 Linux/6.1 exe/x86_64 \\"x\\""')
        self.assertEqual((record.vhost, record.host, record.user, record.section, record.status, record.size, record.duration),
                         ("photos", "", "", "/photos", 404, 0, None))
        record = parse("s3", f'{S3_OWNER} photos [01/Dec/2026:18:46:36 +0000] 192.0.2.3 arn:aws:iam::123456789012:user/alice '
                             'A1B2 BATCH.DELETE.OBJECT cats/old.jpg "-" 204 - - - 12 - "-" "-" -')
        self.assertEqual((record.user, record.method, record.section, record.status),
                         ("arn:aws:iam::123456789012:user/alice", "", "-", 204))


CLOUDFRONT_HEADER = ("#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
                     "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
                     "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
                     "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
                     "sc-content-type sc-content-len sc-range-start sc-range-end")
CLOUDFRONT = "\t".join((
    "2019-12-04", "21:02:31", "LAX1", "392", "192.0.2.100", "GET", "d111111abcdef8.cloudfront.net", "/index.html", "200", "-",
    "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108"
    "%20Safari/537.36", "-", "-", "Hit", "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==", "d111111abcdef8.cloudfront.net",
    "https", "23", "0.001", "-", "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", "Hit", "HTTP/2.0", "-", "-", "11040", "0.001", "Hit",
    "text/html", "78", "-", "-"))


class CloudFrontTest(unittest.TestCase):
    def test_documented_file_with_its_header(self) -> None:
        parser = LogParser("cloudfront")
        lines = (CLOUDFRONT_HEADER + "\n" + CLOUDFRONT).split("\n")
        records = [parser.parse(line.encode()) for line in lines]
        self.assertEqual(records[:2], [None, None])
        record = records[2]
        assert record is not None
        self.assertEqual((record.host, record.method, record.target, record.section, record.status, record.size, record.vhost),
                         ("192.0.2.100", "GET", "/index.html", "/index.html", 200, 392, "d111111abcdef8.cloudfront.net"))
        self.assertEqual(record.time, datetime(2019, 12, 4, 21, 2, 31, tzinfo=timezone.utc))
        self.assertEqual(record.duration, 0.001)

    def test_read_as_w3c_the_duration_is_in_seconds_too(self) -> None:
        # W3C files with x-edge-* fields are CloudFront's, whose time-taken is in seconds (IIS: milliseconds)
        for fmt in ("w3c", "auto"):
            with self.subTest(fmt=fmt):
                parser = LogParser(fmt)
                header, fields = CLOUDFRONT_HEADER.split("\n")
                parser.parse(header)
                parser.parse(fields.replace("\t", " "))
                record = parser.parse(CLOUDFRONT.replace(" ", "%20").replace("\t", " "))
                assert record is not None
                self.assertEqual(record.duration, 0.001)

    def test_own_domain_old_lines_spaces_dashes_and_ipv6(self) -> None:
        fields = CLOUDFRONT.split("\t")
        fields[4], fields[7], fields[10], fields[15], fields[18] = (
            "2001:db8::1", "/api/v1/users", 'Mozilla/5.0 (X11; Linux x86_64) "quoted"', "www.example.com", "0.125")
        record = parse("cloudfront", "\t".join(fields))
        self.assertEqual((record.host, record.section, record.vhost, record.duration), ("2001:db8::1", "/api", "www.example.com", 0.125))
        fields[3], fields[15] = "-", "-"
        record = parse("cloudfront", "\t".join(fields[:19]))  # a log from before the fields after time-taken
        self.assertEqual((record.size, record.vhost), (0, ""))
        fields[8] = "000"  # the viewer left before CloudFront answered
        with self.assertRaises(ParseError):
            parse("cloudfront", "\t".join(fields))


class SquidTest(unittest.TestCase):
    def test_documented_line(self) -> None:
        record = parse("squid", "1286536308.779    180 192.168.0.224 TCP_MISS/200 411 GET http://example.com/ - "
                                "HIER_DIRECT/1.2.3.4 text/html")
        self.assertEqual((record.host, record.user, record.method, record.target, record.section, record.status, record.size),
                         ("192.168.0.224", "", "GET", "http://example.com/", "http://example.com/", 200, 411))
        self.assertEqual((record.epoch, record.time.microsecond), (1286536308, 779000))
        self.assertEqual(record.duration, 0.18)

    def test_connect_users_padding_and_aborted_requests(self) -> None:
        record = parse("squid", "1286536309.012 123456 10.0.0.5 TCP_TUNNEL/200 5000 CONNECT www.example.org:443 alice "
                                "HIER_DIRECT/93.184.216.34 -")
        self.assertEqual((record.user, record.method, record.section, record.duration),
                         ("alice", "CONNECT", "www.example.org:443", 123.456))
        record = parse("squid", "1286536310.5      0 ::1 TCP_DENIED/403 3780 GET http://a.example/x/y?q - HIER_NONE/- "
                                "text/html; charset=utf-8")
        self.assertEqual((record.host, record.status, record.section, record.duration), ("::1", 403, "http://a.example/x", 0.0))
        with self.assertRaises(ParseError):
            parse("squid", "1286536311.000      5 10.0.0.5 NONE/000 0 NONE error:transaction-end-before-headers - HIER_NONE/- -")


if __name__ == "__main__":
    unittest.main()
