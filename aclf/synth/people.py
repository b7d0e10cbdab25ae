"""Synthetic personal data (names, phones, record numbers, resident ID cards) for the sources' PII columns.

Every value is unique and shaped so that it cannot occur inside a non-personal value: name characters
that appear in any Chinese vocabulary of the sources are excluded, so a leak check by substring is exact.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

SURNAMES = {
    "王": "Wang", "李": "Li", "张": "Zhang", "刘": "Liu", "陈": "Chen", "杨": "Yang", "黄": "Huang",
    "赵": "Zhao", "吴": "Wu", "徐": "Xu", "孙": "Sun", "马": "Ma", "朱": "Zhu", "胡": "Hu", "郭": "Guo",
    "何": "He", "高": "Gao", "林": "Lin", "罗": "Luo", "郑": "Zheng", "梁": "Liang", "谢": "Xie",
    "宋": "Song", "唐": "Tang", "许": "Xu", "韩": "Han", "冯": "Feng", "邓": "Deng", "曹": "Cao",
    "彭": "Peng", "曾": "Zeng", "肖": "Xiao", "田": "Tian", "董": "Dong", "袁": "Yuan", "潘": "Pan",
    "蒋": "Jiang", "蔡": "Cai", "余": "Yu", "杜": "Du", "叶": "Ye", "程": "Cheng", "苏": "Su", "魏": "Wei",
    "吕": "Lyu", "丁": "Ding", "任": "Ren", "沈": "Shen", "姚": "Yao", "卢": "Lu", "姜": "Jiang",
    "崔": "Cui", "钟": "Zhong", "谭": "Tan", "陆": "Lu", "汪": "Wang", "范": "Fan", "金": "Jin",
    "石": "Shi", "廖": "Liao", "贾": "Jia", "夏": "Xia", "韦": "Wei", "付": "Fu", "方": "Fang",
    "白": "Bai", "邹": "Zou", "孟": "Meng", "熊": "Xiong", "秦": "Qin", "邱": "Qiu", "薛": "Xue",
    "雷": "Lei", "侯": "Hou", "龙": "Long", "史": "Shi", "陶": "Tao", "黎": "Li", "贺": "He", "顾": "Gu",
    "毛": "Mao", "郝": "Hao", "龚": "Gong", "邵": "Shao", "钱": "Qian", "严": "Yan", "武": "Wu",
    "戴": "Dai", "孔": "Kong", "汤": "Tang", "周": "Zhou",
}
GIVEN_M = {
    "伟": "wei", "强": "qiang", "磊": "lei", "军": "jun", "洋": "yang", "勇": "yong", "杰": "jie",
    "涛": "tao", "明": "ming", "超": "chao", "刚": "gang", "建": "jian", "文": "wen", "辉": "hui",
    "鹏": "peng", "飞": "fei", "斌": "bin", "宇": "yu", "浩": "hao", "凯": "kai", "俊": "jun",
    "志": "zhi", "国": "guo", "海": "hai", "东": "dong", "亮": "liang", "成": "cheng", "峰": "feng",
    "波": "bo", "彬": "bin", "昊": "hao", "睿": "rui", "泽": "ze", "振": "zhen", "荣": "rong",
    "永": "yong", "德": "de", "福": "fu", "宏": "hong", "鑫": "xin", "晓": "xiao", "春": "chun",
    "宁": "ning", "云": "yun", "华": "hua", "平": "ping", "林": "lin", "松": "song", "岩": "yan",
}
GIVEN_F = {
    "芳": "fang", "娜": "na", "敏": "min", "静": "jing", "丽": "li", "艳": "yan", "娟": "juan",
    "秀": "xiu", "霞": "xia", "桂": "gui", "英": "ying", "华": "hua", "玉": "yu", "萍": "ping",
    "红": "hong", "婷": "ting", "琳": "lin", "雪": "xue", "梅": "mei", "莉": "li", "晨": "chen",
    "欣": "xin", "怡": "yi", "佳": "jia", "嘉": "jia", "兰": "lan", "燕": "yan", "翠": "cui",
    "倩": "qian", "琴": "qin", "瑶": "yao", "颖": "ying", "慧": "hui", "淑": "shu", "丹": "dan",
    "璐": "lu", "蕾": "lei", "薇": "wei", "菲": "fei", "晓": "xiao", "春": "chun", "云": "yun",
    "宁": "ning", "月": "yue", "珊": "shan", "琪": "qi", "悦": "yue", "露": "lu",
}
# Resident ID card region codes (first six digits) by site: local districts, plus elsewhere.
REGIONS = {
    "01": ("110101", "110102", "110105", "110106", "110108"),
    "02": ("110101", "110102", "110105", "110107", "110114"),
    "03": ("330102", "330105", "330106", "330108", "330110"),
    "04": ("440303", "440304", "440305", "440306", "440307"),
    "05": ("420102", "420103", "420106", "420111", "420115"),
}
ELSEWHERE = ("130102", "370102", "410102", "510104", "430102", "350102", "610102", "230102")
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident identity card number."""
    s = int(np.dot(_WEIGHTS, [int(c) for c in first17]))
    return _CHECK[s % 11]


def _unique(rng: np.random.Generator, n: int, draw) -> list[str]:
    """n distinct values from draw(rng, k) -> list[str], in draw order (deterministic)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        for v in draw(rng, max(16, 2 * (n - len(out)))):
            if v not in seen:
                seen.add(v)
                out.append(v)
                if len(out) == n:
                    break
    return out


def _digits(rng: np.random.Generator, k: int, width: int) -> list[str]:
    return ["".join(map(str, row)) for row in rng.integers(0, 10, size=(k, width))]


def names(rng: np.random.Generator, female: np.ndarray, avoid: str) -> tuple[list[str], list[str]]:
    """Unique Chinese names and their pinyin (`Wang Fang`), none using a character of `avoid`."""
    sur = sorted(c for c in SURNAMES if c not in avoid)
    pools = [sorted(c for c in g if c not in avoid) for g in (GIVEN_M, GIVEN_F)]
    given_py = {**GIVEN_M, **GIVEN_F}
    cn: list[str] = []
    py: list[str] = []
    seen_cn: set[str] = set()
    seen_py: set[str] = set()
    for f in female:
        pool = pools[int(f)]
        while True:
            s = sur[rng.integers(len(sur))]
            k = 1 if rng.random() < 0.3 else 2
            g = "".join(pool[i] for i in rng.integers(len(pool), size=k))
            name = s + g
            pinyin = SURNAMES[s] + " " + "".join(given_py[c] for c in g).capitalize()
            if name not in seen_cn and pinyin not in seen_py:
                break
        seen_cn.add(name)
        seen_py.add(pinyin)
        cn.append(name)
        py.append(pinyin)
    return cn, py


def phones(rng: np.random.Generator, n: int) -> list[str]:
    """Unique 11-digit mobile numbers starting 13, 15 or 18."""
    def draw(r, k):
        pre = r.choice(["13", "15", "18"], size=k)
        return [p + d for p, d in zip(pre, _digits(r, k, 9))]
    return _unique(rng, n, draw)


def record_numbers(rng: np.random.Generator, n: int, prefix: str) -> list[str]:
    """Unique hospital record numbers: prefix + 7 digits (`H302-2291847`, `YA0098123`)."""
    return _unique(rng, n, lambda r, k: [prefix + d for d in _digits(r, k, 7)])


def id_cards(rng: np.random.Generator, sites: np.ndarray, birth: list[dt.date],
             female: np.ndarray) -> list[str]:
    """Unique 18-character resident ID card numbers encoding birth date and sex, with check character."""
    out: list[str] = []
    seen: set[str] = set()
    for site, b, f in zip(sites, birth, female):
        while True:
            local = REGIONS[site]
            region = local[rng.integers(len(local))] if rng.random() < 0.75 else ELSEWHERE[rng.integers(len(ELSEWHERE))]
            seq = int(rng.integers(0, 50)) * 20 + int(rng.integers(0, 10)) * 2 + (0 if f else 1)
            body = f"{region}{b:%Y%m%d}{seq:03d}"
            card = body + id_check_char(body)
            if card not in seen:
                break
        seen.add(card)
        out.append(card)
    return out


def make_people(rng: np.random.Generator, pat: pd.DataFrame, avoid: str) -> pd.DataFrame:
    """Personal data of every screened patient, in patient order."""
    female = pat.female.to_numpy()
    n = len(pat)
    cn, py = names(rng, female, avoid)
    return pd.DataFrame({
        "name_cn": cn, "name_py": py, "phone": phones(rng, n),
        "mrn01": record_numbers(rng, n, "H302-"), "mrn02": record_numbers(rng, n, "YA"),
        "id_card": id_cards(rng, pat.site.to_numpy(), list(pat.birth), female),
    })
