"""Fixed per-script letter alphabets for name tokenization (frozen at Unicode 14.0)."""

from __future__ import annotations

from typing import Final

# SECURITY: these strings are part of the token format. Reordering, adding or removing a
# character changes every token over that alphabet, so they are literal, not computed from
# the running Python's unicodedata (which changes between versions).

ASCII_LOWER: Final = "abcdefghijklmnopqrstuvwxyz"
ASCII_UPPER: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS: Final = "0123456789"
# Email local parts: digits and lower-case letters share one radix-36 class.
ALNUM_LOWER: Final = DIGITS + ASCII_LOWER

LATIN_EXT_LOWER: Final = (
    "ßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿāăąćĉċčď"
    "đēĕėęěĝğġģĥħĩīĭįıĳĵķĸĺļľŀłńņňŉŋōŏőœŕŗřśŝ"
    "şšţťŧũūŭůűųŵŷźżžſƀƃƅƈƌƍƒƕƙƚƛƞơƣƥƨƪƫƭưƴƶƹ"
    "ƺƽƾƿǆǉǌǎǐǒǔǖǘǚǜǝǟǡǣǥǧǩǫǭǯǰǳǵǹǻǽǿȁȃȅȇȉȋȍȏ"
    "ȑȓȕȗșțȝȟȡȣȥȧȩȫȭȯȱȳȴȵȶȷȸȹȼȿɀɂɇɉɋɍɏ"
)

LATIN_EXT_UPPER: Final = (
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞĀĂĄĆĈĊČĎĐĒ"
    "ĔĖĘĚĜĞĠĢĤĦĨĪĬĮİĲĴĶĹĻĽĿŁŃŅŇŊŌŎŐŒŔŖŘŚŜŞŠŢŤ"
    "ŦŨŪŬŮŰŲŴŶŸŹŻŽƁƂƄƆƇƉƊƋƎƏƐƑƓƔƖƗƘƜƝƟƠƢƤƦƧƩƬ"
    "ƮƯƱƲƳƵƷƸƼǄǇǊǍǏǑǓǕǗǙǛǞǠǢǤǦǨǪǬǮǱǴǶǷǸǺǼǾȀȂȄ"
    "ȆȈȊȌȎȐȒȔȖȘȚȜȞȠȢȤȦȨȪȬȮȰȲȺȻȽȾɁɃɄɅɆɈɊɌɎ"
)

GREEK_LOWER: Final = "ͱͳͷͻͼͽΐάέήίΰαβγδεζηθικλμνξοπρςστυφχψωϊϋόύώϐϑϕϖϗϙϛϝϟϡϣϥϧϩϫϭϯϰϱϲϳϵϸϻϼ"

GREEK_UPPER: Final = "ͰͲͶͿΆΈΉΊΌΎΏΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩΪΫϏϒϓϔϘϚϜϞϠϢϤϦϨϪϬϮϴϷϹϺϽϾϿ"

CYRILLIC_LOWER: Final = (
    "абвгдежзийклмнопрстуфхцчшщъыьэюяѐёђѓєѕії"
    "јљњћќѝўџѡѣѥѧѩѫѭѯѱѳѵѷѹѻѽѿҁҋҍҏґғҕҗҙқҝҟҡңҥҧ"
    "ҩҫҭүұҳҵҷҹһҽҿӂӄӆӈӊӌӎӏӑӓӕӗәӛӝӟӡӣӥӧөӫӭӯӱӳӵӷ"
    "ӹӻӽӿ"
)

CYRILLIC_UPPER: Final = (
    "ЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧ"
    "ШЩЪЫЬЭЮЯѠѢѤѦѨѪѬѮѰѲѴѶѸѺѼѾҀҊҌҎҐҒҔҖҘҚҜҞҠҢҤҦ"
    "ҨҪҬҮҰҲҴҶҸҺҼҾӀӁӃӅӇӉӋӍӐӒӔӖӘӚӜӞӠӢӤӦӨӪӬӮӰӲӴӶ"
    "ӸӺӼӾ"
)

# Letters of the Latin-1 Supplement and Latin Extended-A/B blocks (U+00C0-U+024F),
# Greek and Coptic (U+0370-U+03FF) and Cyrillic (U+0400-U+04FF), by general category
# Ll or Lu. Scripts without case use one contiguous code-point range each.
RANGES: Final[tuple[tuple[str, int, int], ...]] = (
    ("hebrew", 0x05D0, 0x05EA),
    ("arabic", 0x0621, 0x063A),
    ("arabic2", 0x0641, 0x064A),
    ("hiragana", 0x3041, 0x3096),
    ("katakana", 0x30A1, 0x30FA),
    ("cjk", 0x4E00, 0x9FFF),
    ("hangul", 0xAC00, 0xD7A3),
)
