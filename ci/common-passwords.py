#!/usr/bin/env python3
"""Regenerates template/src/auth/common_passwords.txt, the blocklist the generated app embeds.

Only entries of 8+ characters are kept: the policy never accepts a shorter password.
The list is built from public facts about what people pick (the perennial top entries of breach
statistics, keyboard walks, digit runs, words + years/digits/symbols), not copied from any
published list. Entries are lower-case; the app compares case-insensitively.
Usage: python3 ci/common-passwords.py > template/src/auth/common_passwords.txt
"""

import itertools

# Bases that top every breach-frequency ranking, plus very common names, words and places.
BASES = """
password passw0rd p@ssword p@ssw0rd pass pa55word pa55w0rd secret letmein welcome welcome1
admin administrator root login master guest user test tester default changeme change
qwerty qwertz azerty asdf asdfgh asdfghjkl zxcvbn zxcvbnm qwertyuiop qazwsx qweasd
qweasdzxc 1qaz2wsx zaq12wsx 1q2w3e 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y q1w2e3r4 a1b2c3
abc abcd abcdef abcdefg abc123 iloveyou loveyou lovely love monkey dragon football
baseball soccer hockey basketball tennis golf sunshine princess starwars superman batman
spiderman pokemon minecraft fortnite shadow master michael jennifer jessica ashley
charlie thomas jordan hunter daniel robert andrew joshua matthew william george summer
winter spring autumn freedom whatever trustno1 hello hellohello helloworld ninja solo
flower cookie cheese chocolate banana orange purple computer internet samsung iphone
google facebook linkedin twitter instagram yahoo microsoft windows apple mustang ferrari
porsche corvette harley liverpool chelsea arsenal barcelona realmadrid juventus yankees
cowboys lakers eagles tigers dolphins killer pepper ginger buster tigger maggie bailey
sophie jasmine mickey minnie snoopy garfield bandit rocky lucky angel angels blessed
jesus christ heaven god faith family friends forever loveme lovers sexy hottie babygirl
princess1 iloveyou1 fuckyou fuckoff asshole bitch money dollar million success
business company office manager support service server database oracle mysql
postgres postgresql redis docker kubernetes secure security letmein1 access system
network wireless wifi router ubuntu linux debian centos password1 password12
password123 qwerty123 qwerty1 zxcvbnm1 welcome123 admin123 admin1234 root123 test123
test1234 demo demo123 sample example temp temporary nothing blank empty unknown
paris london berlin madrid rome newyork chicago texas california florida canada
america germany france italia espana mexico brasil india china japan russia
bonjour soleil doudou chouchou loulou marseille toulouse nicolas camille julien
""".split()

DIGIT_RUNS = [
    "123", "1234", "12345", "123456", "1234567", "12345678", "123456789", "1234567890",
    "12345678910", "123456789012", "1234567890123", "0123456789", "987654321", "9876543210",
    "0987654321", "654321", "54321", "4321", "321", "111111", "000000", "121212", "123123",
    "112233", "696969", "777777", "888888", "666666", "555555", "159753", "147258369",
    "123321", "12344321", "1234554321", "11223344", "147258", "963852741", "789456123",
    "741852963", "159357", "1212", "2580", "1010", "2000", "007",
]

YEARS = [str(y) for y in range(1960, 2031)]
# Every base gets these; only the most common bases also get years (that is where the list grows).
SUFFIXES = (["", "!", "!!", "?", ".", "@", "#", "$", "*", "1", "12", "01", "1!", "123!", "@123",
             "#1", "!@#", "!@#$", "007", "69", "99", "00", "11", "22"] + DIGIT_RUNS)
YEAR_SUFFIXES = YEARS + [y + "!" for y in YEARS]
MOST_COMMON_BASES = 90
PREFIXES = ["my", "i", "the"]

KEYBOARD_ROWS = ["1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop", "qsdfghjklm",
                 "wxcvbn", "qwertzuiop", "yxcvbnm", "1qaz2wsx3edc4rfv5tgb", "zaq1xsw2cde3vfr4",
                 "qazwsxedcrfvtgbyhnujm", "1q2w3e4r5t6y7u8i9o0p", "q1w2e3r4t5y6u7i8o9p0",
                 "abcdefghijklmnopqrstuvwxyz", "0987654321", "poiuytrewq", "mnbvcxz",
                 "lkjhgfdsa", "zyxwvutsrqponmlkjihgfedcba"]


def keyboard_walks():
    for row in KEYBOARD_ROWS:
        for length in range(6, len(row) + 1):
            yield row[:length]
        yield row + row
    for a, b in itertools.permutations(["qwerty", "asdfgh", "zxcvbn", "123456", "qwertyuiop",
                                        "asdfghjkl", "zxcvbnm", "1234567890"], 2):
        yield a + b


def repeats():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789!"
    for ch in alphabet:
        for length in range(6, 21):
            yield ch * length
    for unit in ["12", "123", "1234", "ab", "abc", "abcd", "qwe", "asd", "xo", "ha", "la",
                 "love", "pass", "qwerty", "password", "hello", "admin", "test", "abc123",
                 "iloveyou", "letmein", "secret", "welcome", "money", "monkey", "dragon"]:
        for times in range(2, 6):
            yield unit * times


def variants():
    for rank, base in enumerate(BASES):
        for suffix in SUFFIXES + (YEAR_SUFFIXES if rank < MOST_COMMON_BASES else []):
            yield base + suffix
        for prefix in PREFIXES:
            for suffix in ["", "1", "123", "!"]:
                yield prefix + base + suffix
        # The l33t form people believe is safer.
        leet = base.replace("a", "@").replace("o", "0").replace("e", "3").replace("i", "1")
        if leet != base:
            for suffix in SUFFIXES:
                yield leet + suffix
    for run in DIGIT_RUNS:
        yield run
        yield run + run
    for year in YEARS:
        yield year * 3
    yield from keyboard_walks()
    yield from repeats()
    for phrase in ["iloveyou", "letmein", "trustno1", "opensesame", "correcthorsebatterystaple",
                   "thequickbrownfox", "thequickbrownfoxjumpsoverthelazydog", "iloveyoubaby",
                   "iloveyoumom", "iloveyoutoo", "iloveyousomuch", "mypassword", "mynewpassword",
                   "newpassword", "oldpassword", "changemenow", "pleaseletmein", "letmeinnow",
                   "welcometo", "welcomehome", "administrator", "superadmin", "superuser",
                   "rootpassword", "adminpassword", "defaultpassword", "passwordpassword",
                   "secretpassword", "strongpassword", "securepassword", "verysecure",
                   "notmypassword", "whatisthepassword", "ihateyou", "youareawesome",
                   "godisgood", "jesuslovesme", "blink182", "qwertyqwerty", "asdfasdfasdf",
                   "passwordisnull", "nopassword", "password2", "password01"]:
        for suffix in ["", "1", "12", "123", "1234", "12345", "!", "2024", "2025", "01"]:
            yield phrase + suffix


def main():
    entries = sorted({v.lower() for v in variants() if 8 <= len(v) <= 128 and "{" not in v})
    print("\n".join(entries))


if __name__ == "__main__":
    main()
