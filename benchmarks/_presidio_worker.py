"""Run Presidio's pattern recognizers (no NLP model) over JSON-lines units on stdin.

Input lines: {"key": [...], "text": "..."}; output: one JSON line per result with the
unit key, the FinVeil kind, offset and length; then a final {"seconds": ..., "bytes": ...}.
Run with an interpreter where ``presidio-analyzer`` is installed.
"""

import json
import sys
import time

import tldextract  # type: ignore[import-not-found]

# No network here: use the public-suffix snapshot bundled with tldextract.
tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())

from presidio_analyzer.predefined_recognizers import (  # type: ignore[import-not-found]  # noqa: E402
    CreditCardRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "CH", "AT")
RECOGNIZERS = [
    (CreditCardRecognizer(), "CREDIT_CARD", "pan"),
    (IbanRecognizer(), "IBAN_CODE", "iban"),
    (UsSsnRecognizer(), "US_SSN", "ssn"),
    (EmailRecognizer(), "EMAIL_ADDRESS", "email"),
    (PhoneRecognizer(supported_regions=REGIONS), "PHONE_NUMBER", "phone"),
]


def main() -> None:
    units = [json.loads(line) for line in sys.stdin]
    out = sys.stdout
    nbytes = sum(len(u["text"].encode("utf-8")) for u in units)
    start = time.perf_counter()
    for unit in units:
        for rec, entity, kind in RECOGNIZERS:
            for res in rec.analyze(unit["text"], [entity], None):
                out.write(
                    json.dumps(
                        {
                            "key": unit["key"],
                            "kind": kind,
                            "offset": res.start,
                            "length": res.end - res.start,
                            "score": res.score,
                        }
                    )
                    + "\n"
                )
    out.write(json.dumps({"seconds": time.perf_counter() - start, "bytes": nbytes}) + "\n")


if __name__ == "__main__":
    main()
