"""Synthetic shop: a seeded, vectorised Chinese retail business with planted ground truth.

:func:`generate_shop` writes the scattered exports a real shop has — a CRM
member list, app accounts, a product catalogue, online and in-store orders
with their lines, web/app/mini-program behaviour events, service tickets,
reviews and campaign touches — plus ``ground_truth/`` telling which records
belong to which real person and which habits were planted on whom.

Everything is drawn with numpy from one seed (no per-customer Python loop), so
the same seed writes byte-identical files and 1M customers take about a
minute. The noise is the kind identity resolution and cleaning must survive:
phone numbers in six formats (sometimes full-width, sometimes the staff's
placeholder ``13800000000``), name typos (homophones, traditional characters,
full-width spaces), re-registered members with two CRM records, families
sharing one device, guests paying without a member card.

Planted habits (flags in ``ground_truth/persons.csv``) are only given to
persons with enough attributable orders (at least about 7 expected) to show
a habit at all: ``payday_shopper`` (orders on days 10–14 of the month),
``promotion_sensitive`` (discounted orders, deeper discounts, campaign
conversions), ``night_owl`` (orders and events between 22:00 and 02:00),
``high_price`` (items from the top price quartile of their category) and
``loyal_repurchaser`` (≥ 12 orders at a regular interval). ``churned_at``
marks active buyers who stop: nothing of theirs happens on or after it.

Examples
--------
>>> import tempfile
>>> from huaxiang.datasets.synthetic import generate_shop
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = generate_shop(tmp, n_customers=1_000, seed=7)
>>> summary.rows["ground_truth/persons.csv"]
1000
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["FILES", "ShopSummary", "generate_shop", "main"]

Arr = npt.NDArray[Any]

FILES: tuple[str, ...] = (
    "crm_members.csv",
    "app_users.jsonl",
    "products.csv",
    "online_orders.parquet",
    "online_order_items.parquet",
    "pos_orders.csv",
    "pos_order_items.csv",
    "events.parquet",
    "service_tickets.xlsx",
    "reviews.jsonl",
    "campaign_touches.csv",
    "ground_truth/records.csv",
    "ground_truth/persons.csv",
)
"""Every file :func:`generate_shop` writes, relative to ``out_dir``."""

PLACEHOLDER_PHONE = "13800000000"
"""The phone number shop staff type when a member gives none."""

# --------------------------------------------------------------------------- vocabularies

# surname, traditional form, pinyin, relative frequency
_SURNAMES: tuple[tuple[str, str, str, float], ...] = (
    ("王", "王", "wang", 7.1),
    ("李", "李", "li", 7.0),
    ("张", "張", "zhang", 6.7),
    ("刘", "劉", "liu", 5.4),
    ("陈", "陳", "chen", 4.5),
    ("杨", "楊", "yang", 3.1),
    ("黄", "黃", "huang", 2.2),
    ("赵", "趙", "zhao", 2.0),
    ("吴", "吳", "wu", 2.0),
    ("周", "周", "zhou", 1.9),
    ("徐", "徐", "xu", 1.3),
    ("孙", "孫", "sun", 1.2),
    ("马", "馬", "ma", 1.2),
    ("朱", "朱", "zhu", 1.1),
    ("胡", "胡", "hu", 1.1),
    ("郭", "郭", "guo", 1.1),
    ("何", "何", "he", 0.9),
    ("林", "林", "lin", 0.9),
    ("高", "高", "gao", 0.9),
    ("罗", "羅", "luo", 0.9),
    ("郑", "鄭", "zheng", 0.8),
    ("梁", "梁", "liang", 0.7),
    ("谢", "謝", "xie", 0.6),
    ("宋", "宋", "song", 0.6),
    ("唐", "唐", "tang", 0.6),
    ("许", "許", "xu", 0.5),
    ("韩", "韓", "han", 0.5),
    ("冯", "馮", "feng", 0.5),
    ("邓", "鄧", "deng", 0.5),
    ("曹", "曹", "cao", 0.5),
    ("彭", "彭", "peng", 0.5),
    ("曾", "曾", "zeng", 0.5),
    ("肖", "蕭", "xiao", 0.5),
    ("田", "田", "tian", 0.4),
    ("董", "董", "dong", 0.4),
    ("袁", "袁", "yuan", 0.4),
    ("潘", "潘", "pan", 0.4),
    ("蒋", "蔣", "jiang", 0.4),
    ("蔡", "蔡", "cai", 0.4),
    ("余", "余", "yu", 0.4),
    ("杜", "杜", "du", 0.4),
    ("叶", "葉", "ye", 0.4),
    ("程", "程", "cheng", 0.4),
    ("苏", "蘇", "su", 0.4),
    ("魏", "魏", "wei", 0.3),
    ("吕", "呂", "lv", 0.3),
    ("丁", "丁", "ding", 0.3),
    ("沈", "沈", "shen", 0.3),
    ("姚", "姚", "yao", 0.3),
    ("卢", "盧", "lu", 0.3),
    ("姜", "姜", "jiang", 0.3),
    ("崔", "崔", "cui", 0.3),
    ("钟", "鍾", "zhong", 0.3),
    ("谭", "譚", "tan", 0.3),
    ("陆", "陸", "lu", 0.3),
    ("汪", "汪", "wang", 0.3),
    ("范", "范", "fan", 0.3),
    ("金", "金", "jin", 0.3),
    ("石", "石", "shi", 0.3),
    ("廖", "廖", "liao", 0.3),
    ("贾", "賈", "jia", 0.2),
    ("夏", "夏", "xia", 0.2),
    ("韦", "韋", "wei", 0.2),
    ("方", "方", "fang", 0.2),
    ("白", "白", "bai", 0.2),
    ("邹", "鄒", "zou", 0.2),
    ("孟", "孟", "meng", 0.2),
    ("熊", "熊", "xiong", 0.2),
    ("秦", "秦", "qin", 0.2),
    ("邱", "邱", "qiu", 0.2),
    ("欧阳", "歐陽", "ouyang", 0.05),
    ("司马", "司馬", "sima", 0.02),
    ("上官", "上官", "shangguan", 0.02),
)

# given-name character, traditional form, a homophone (the typo), pinyin
_MALE_CHARS: tuple[tuple[str, str, str, str], ...] = (
    ("伟", "偉", "玮", "wei"),
    ("强", "強", "蔷", "qiang"),
    ("磊", "磊", "垒", "lei"),
    ("军", "軍", "君", "jun"),
    ("洋", "洋", "阳", "yang"),
    ("勇", "勇", "永", "yong"),
    ("杰", "傑", "洁", "jie"),
    ("涛", "濤", "韬", "tao"),
    ("明", "明", "铭", "ming"),
    ("超", "超", "潮", "chao"),
    ("刚", "剛", "钢", "gang"),
    ("平", "平", "萍", "ping"),
    ("辉", "輝", "晖", "hui"),
    ("鹏", "鵬", "朋", "peng"),
    ("华", "華", "桦", "hua"),
    ("飞", "飛", "菲", "fei"),
    ("鑫", "鑫", "欣", "xin"),
    ("波", "波", "博", "bo"),
    ("斌", "斌", "彬", "bin"),
    ("宇", "宇", "羽", "yu"),
    ("浩", "浩", "昊", "hao"),
    ("凯", "凱", "铠", "kai"),
    ("健", "健", "建", "jian"),
    ("俊", "俊", "骏", "jun"),
    ("帆", "帆", "凡", "fan"),
    ("旭", "旭", "煦", "xu"),
    ("宁", "寧", "凝", "ning"),
    ("龙", "龍", "隆", "long"),
    ("文", "文", "雯", "wen"),
    ("国", "國", "果", "guo"),
    ("志", "誌", "智", "zhi"),
    ("峰", "峰", "锋", "feng"),
    ("亮", "亮", "谅", "liang"),
    ("晨", "晨", "辰", "chen"),
    ("阳", "陽", "洋", "yang"),
    ("轩", "軒", "宣", "xuan"),
    ("睿", "睿", "瑞", "rui"),
    ("子", "子", "梓", "zi"),
    ("天", "天", "添", "tian"),
    ("泽", "澤", "则", "ze"),
    ("成", "成", "诚", "cheng"),
    ("东", "東", "冬", "dong"),
    ("鸿", "鴻", "宏", "hong"),
    ("嘉", "嘉", "佳", "jia"),
)
_FEMALE_CHARS: tuple[tuple[str, str, str, str], ...] = (
    ("芳", "芳", "方", "fang"),
    ("娜", "娜", "那", "na"),
    ("敏", "敏", "民", "min"),
    ("静", "靜", "婧", "jing"),
    ("丽", "麗", "莉", "li"),
    ("艳", "艷", "燕", "yan"),
    ("娟", "娟", "鹃", "juan"),
    ("霞", "霞", "侠", "xia"),
    ("秀", "秀", "绣", "xiu"),
    ("玲", "玲", "铃", "ling"),
    ("婷", "婷", "亭", "ting"),
    ("雪", "雪", "薛", "xue"),
    ("慧", "慧", "惠", "hui"),
    ("莹", "瑩", "盈", "ying"),
    ("晶", "晶", "菁", "jing"),
    ("颖", "穎", "影", "ying"),
    ("琳", "琳", "林", "lin"),
    ("欣", "欣", "馨", "xin"),
    ("怡", "怡", "宜", "yi"),
    ("佳", "佳", "嘉", "jia"),
    ("梦", "夢", "孟", "meng"),
    ("雨", "雨", "语", "yu"),
    ("倩", "倩", "茜", "qian"),
    ("洁", "潔", "杰", "jie"),
    ("悦", "悅", "月", "yue"),
    ("璐", "璐", "露", "lu"),
    ("萱", "萱", "宣", "xuan"),
    ("涵", "涵", "寒", "han"),
    ("思", "思", "丝", "si"),
    ("瑶", "瑤", "遥", "yao"),
    ("诗", "詩", "师", "shi"),
    ("月", "月", "悦", "yue"),
    ("晓", "曉", "小", "xiao"),
    ("丹", "丹", "单", "dan"),
    ("蕾", "蕾", "雷", "lei"),
    ("薇", "薇", "微", "wei"),
    ("燕", "燕", "艳", "yan"),
    ("红", "紅", "虹", "hong"),
    ("兰", "蘭", "岚", "lan"),
    ("凤", "鳳", "风", "feng"),
)

# province, city, tier (1 = 一线 … 4 = 三线及以下), weight
_CITIES: tuple[tuple[str, str, int, float], ...] = (
    ("北京", "北京", 1, 5.0),
    ("上海", "上海", 1, 5.5),
    ("广东", "广州", 1, 4.5),
    ("广东", "深圳", 1, 4.5),
    ("四川", "成都", 2, 3.5),
    ("浙江", "杭州", 2, 3.5),
    ("湖北", "武汉", 2, 3.0),
    ("江苏", "南京", 2, 2.8),
    ("重庆", "重庆", 2, 3.0),
    ("天津", "天津", 2, 2.5),
    ("陕西", "西安", 2, 2.5),
    ("江苏", "苏州", 2, 2.8),
    ("湖南", "长沙", 2, 2.2),
    ("河南", "郑州", 2, 2.2),
    ("山东", "青岛", 2, 2.0),
    ("辽宁", "沈阳", 2, 1.6),
    ("浙江", "宁波", 2, 1.8),
    ("广东", "东莞", 2, 1.8),
    ("云南", "昆明", 2, 1.5),
    ("福建", "厦门", 3, 1.3),
    ("福建", "福州", 3, 1.3),
    ("山东", "济南", 3, 1.4),
    ("安徽", "合肥", 3, 1.5),
    ("黑龙江", "哈尔滨", 3, 1.2),
    ("吉林", "长春", 3, 1.0),
    ("辽宁", "大连", 3, 1.1),
    ("江西", "南昌", 3, 1.0),
    ("广西", "南宁", 3, 1.0),
    ("山西", "太原", 3, 0.9),
    ("河北", "石家庄", 3, 1.0),
    ("贵州", "贵阳", 3, 0.9),
    ("浙江", "温州", 3, 1.0),
    ("江苏", "无锡", 3, 1.1),
    ("广东", "佛山", 3, 1.3),
    ("江苏", "徐州", 4, 0.7),
    ("湖南", "岳阳", 4, 0.5),
    ("河南", "洛阳", 4, 0.6),
    ("广东", "汕头", 4, 0.5),
    ("河北", "保定", 4, 0.6),
    ("安徽", "芜湖", 4, 0.5),
    ("甘肃", "兰州", 4, 0.6),
    ("新疆", "乌鲁木齐", 4, 0.5),
    ("内蒙古", "呼和浩特", 4, 0.4),
    ("海南", "海口", 4, 0.5),
    ("四川", "绵阳", 4, 0.4),
    ("湖北", "宜昌", 4, 0.4),
)
_OCCUPATIONS = (
    "企业职员",
    "公务员",
    "教师",
    "医生",
    "工程师",
    "销售",
    "自由职业",
    "学生",
    "个体经营",
    "退休",
    "程序员",
    "设计师",
    "财务",
    "护士",
    "律师",
    "其他",
)
_LEVELS = ("普通", "银卡", "金卡", "钻石")

# top category, brands
_TOPS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("食品", ("伊利", "蒙牛", "光明", "三只松鼠", "良品铺子", "金龙鱼", "福临门", "康师傅", "百草味"), 3.0),
    ("酒水饮料", ("农夫山泉", "元气森林", "茅台", "五粮液", "张裕", "雀巢", "可口可乐", "东方树叶"), 1.6),
    ("生鲜", ("佳沛", "褚橙", "正大", "盒马", "国联", "百果园"), 2.0),
    ("美妆个护", ("珀莱雅", "完美日记", "花西子", "自然堂", "百雀羚", "云南白药", "海飞丝"), 1.3),
    ("母婴", ("飞鹤", "君乐宝", "好奇", "帮宝适", "贝亲", "babycare"), 0.8),
    ("家居日用", ("蓝月亮", "立白", "维达", "清风", "苏泊尔", "罗莱", "天堂伞"), 1.5),
    ("数码家电", ("小米", "华为", "美的", "格力", "海尔", "九阳", "荣耀", "OPPO"), 0.7),
    ("服饰鞋包", ("安踏", "李宁", "波司登", "海澜之家", "太平鸟", "森马", "特步"), 1.1),
)
# top index, path below the top, median price (CNY), specs
_LEAVES: tuple[tuple[int, str, float, tuple[str, ...]], ...] = (
    (0, "乳制品/牛奶", 55.0, ("250ml×12盒", "1L×6盒", "200ml×24盒")),
    (0, "乳制品/酸奶", 35.0, ("100g×8杯", "200g×10瓶")),
    (0, "休闲零食/饼干", 25.0, ("400g", "1kg礼盒")),
    (0, "休闲零食/坚果", 60.0, ("每日坚果30袋", "500g")),
    (0, "粮油调味/大米", 65.0, ("5kg", "10kg")),
    (0, "粮油调味/食用油", 75.0, ("5L", "1.8L×2")),
    (0, "速食/方便面", 20.0, ("5连包", "12桶整箱")),
    (1, "饮料/碳酸饮料", 30.0, ("330ml×24罐", "2L×6瓶")),
    (1, "饮料/茶饮料", 35.0, ("500ml×15瓶", "900ml×12瓶")),
    (1, "酒类/白酒", 600.0, ("500ml", "500ml×2礼盒")),
    (1, "酒类/葡萄酒", 180.0, ("750ml", "750ml×6整箱")),
    (1, "咖啡冲调/咖啡", 80.0, ("速溶30条", "咖啡豆500g")),
    (2, "水果/苹果", 50.0, ("5斤装", "10斤装")),
    (2, "水果/车厘子", 150.0, ("2斤JJ级", "5斤JJJ级")),
    (2, "肉禽蛋/猪肉", 60.0, ("五花肉1kg", "排骨1kg")),
    (2, "海鲜水产/虾", 120.0, ("1kg", "2kg")),
    (2, "蔬菜/叶菜", 15.0, ("500g", "1kg")),
    (3, "护肤/面霜", 220.0, ("50g", "30g")),
    (3, "护肤/精华", 320.0, ("30ml", "50ml")),
    (3, "彩妆/口红", 160.0, ("3.5g", "礼盒装")),
    (3, "个人护理/洗发水", 55.0, ("750ml", "400ml×2")),
    (3, "个人护理/牙膏", 25.0, ("120g×3", "180g")),
    (4, "奶粉/婴儿奶粉", 280.0, ("1段800g", "3段800g")),
    (4, "尿裤湿巾/纸尿裤", 130.0, ("M码62片", "L码54片")),
    (4, "喂养用品/奶瓶", 90.0, ("240ml", "160ml")),
    (4, "玩具/积木", 200.0, ("大颗粒", "科技系列")),
    (5, "清洁用品/洗衣液", 50.0, ("3kg", "2kg×2")),
    (5, "纸品/抽纸", 45.0, ("24包", "10包")),
    (5, "厨具/锅具", 260.0, ("28cm炒锅", "24cm汤锅")),
    (5, "家纺/四件套", 400.0, ("1.5m", "1.8m")),
    (5, "收纳/收纳箱", 60.0, ("3只装", "大号")),
    (6, "手机/智能手机", 2800.0, ("8+256G", "12+512G")),
    (6, "耳机/蓝牙耳机", 300.0, ("降噪版", "标准版")),
    (6, "小家电/电饭煲", 350.0, ("4L", "3L")),
    (6, "小家电/吸尘器", 900.0, ("无线", "手持")),
    (6, "大家电/空调", 3200.0, ("1.5匹", "大1匹")),
    (7, "男装/T恤", 90.0, ("L", "XL")),
    (7, "女装/连衣裙", 260.0, ("S", "M")),
    (7, "运动鞋/跑步鞋", 450.0, ("42码", "38码")),
    (7, "箱包/双肩包", 230.0, ("20L", "15寸")),
)
_ADJECTIVES = ("经典", "精选", "进口", "有机", "新款", "家庭装", "旗舰", "轻享", "特惠", "臻选")

_PLATFORMS = ("app", "mini_program", "web")
_ONLINE_PAY = ("支付宝", "微信支付", "银联", "信用卡")
_STORE_PAY = ("支付宝", "微信", "银联卡", "现金")
_ONLINE_STATUS = ("已支付", "已取消", "已退款")
_STORE_STATUS = ("paid", "refunded")
_PROMO_CODES = ("MEMBER95", "NEW10", "WEEKEND88", "FULL200-30", "VIPDAY", "DOUBLE11", "MID618")
_EVENTS = (
    "Page Viewed",
    "Products Searched",
    "Product Viewed",
    "Product Added",
    "Product Added to Wishlist",
    "Checkout Started",
    "Order Completed",
    "Payment Completed",
    "Return Requested",
)
_PV, _PS, _PRV, _PA, _PW, _CS, _OC, _PC, _RR = range(9)
_EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "foxmail.com")
_NICK_HEAD = ("快乐", "阳光", "安静的", "小小", "追风", "爱吃", "momo", "Lily", "Tom", "Coco", "懒懒", "元气")
_NICK_TAIL = ("小猪", "少年", "猫咪", "鱼", "兔子", "酱", "er", "_cn", "宝宝", "达人", "君", "")
_TICKET_TYPES = ("投诉", "咨询", "退换货")
_TICKET_TEXT: tuple[tuple[str, ...], ...] = (
    (
        "快递太慢了，一周还没到",
        "收到的商品有破损",
        "客服态度差",
        "Delivery was late and the box was damaged",
        "发票一直没开",
        "门店排队太久",
    ),
    (
        "请问会员积分怎么兑换？",
        "这款有没有大一码？",
        "什么时候有活动？",
        "How do I change my phone number?",
        "门店营业时间是几点",
        "优惠券怎么用",
    ),
    ("尺码不合适想换货", "质量有问题申请退货", "发错货了", "I want to return this item", "七天无理由退货"),
)
_REVIEW_TEXT: tuple[tuple[str, ...], ...] = (
    ("质量很差，不会再买了", "和描述不符", "Terrible quality, returned it"),
    ("一般般吧", "包装有点破", "Not great"),
    ("还可以", "中规中矩", "It's OK"),
    ("不错，物流很快", "性价比高", "Good value, fast delivery"),
    ("非常满意，回购很多次了", "好评！", "Love it, will buy again", "品质很好，推荐"),
)

# Spring Festival (春节) dates; the fortnight before is the 年货节 rush, the holiday week is quiet.
_SPRING_FESTIVAL = (
    "2018-02-16",
    "2019-02-05",
    "2020-01-25",
    "2021-02-12",
    "2022-02-01",
    "2023-01-22",
    "2024-02-10",
    "2025-01-29",
    "2026-02-17",
    "2027-02-06",
    "2028-01-26",
    "2029-02-13",
    "2030-02-03",
)
_HOUR_ONLINE = np.array(
    [
        1.2,
        0.6,
        0.3,
        0.2,
        0.2,
        0.3,
        0.8,
        1.5,
        2.5,
        3.5,
        4.5,
        5.0,
        6.5,
        5.5,
        4.0,
        3.8,
        4.0,
        4.5,
        5.0,
        6.5,
        7.5,
        7.0,
        2.6,
        1.4,
    ]
)
_HOUR_STORE = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0.5, 2.0, 3.5, 5.0, 6.0, 6.5, 5.0, 4.0, 4.0, 5.0, 6.5, 7.5, 7.0, 5.5, 3.0, 0.8, 0.0]
)
_NIGHT_HOURS = np.array([22, 23, 0, 1])
_NIGHT_P = np.array([0.35, 0.35, 0.2, 0.1])
_Q_LOW = np.cumsum([0.36, 0.33, 0.22, 0.09])
_Q_HIGH = np.cumsum([0.03, 0.05, 0.12, 0.80])


# --------------------------------------------------------------------------- small helpers


@dataclass(frozen=True)
class ShopSummary:
    """What :func:`generate_shop` wrote.

    Attributes
    ----------
    out_dir : Path
        The folder the files are in.
    rows : Mapping[str, int]
        Data rows per file (header excluded), keyed by the path relative to ``out_dir``.
    seconds : float
        Wall-clock time of the generation.

    Examples
    --------
    >>> s = ShopSummary(Path("shop"), {"products.csv": 3}, 0.5)
    >>> s.rows["products.csv"]
    3
    """

    out_dir: Path
    rows: Mapping[str, int]
    seconds: float

    def __str__(self) -> str:
        lines = [f"synthetic shop in {self.out_dir} ({self.seconds:.1f} s)"]
        lines += [f"  {name:<32}{count:>12,}" for name, count in self.rows.items()]
        return "\n".join(lines)


def _strings(values: Sequence[str]) -> pa.Array:
    return pa.array(list(values), pa.string())


def _fixed(n: int, parts: Sequence[bytes | tuple[Arr, int]]) -> pa.Array:
    """Fixed-width ASCII strings built from literals and zero-padded integers, without Python loops."""
    width = sum(len(p) if isinstance(p, bytes) else p[1] for p in parts)
    buf = np.empty((n, width), np.uint8)
    col = 0
    for part in parts:
        if isinstance(part, bytes):
            buf[:, col : col + len(part)] = np.frombuffer(part, np.uint8)
            col += len(part)
            continue
        values, w = part
        v = np.asarray(values)
        v = v.astype(np.int32) if n == 0 or int(v.max()) < 2**31 else v.astype(np.int64)
        for k in range(w - 1, -1, -1):
            buf[:, col + k] = 48 + v % 10
            v = v // 10
        col += w
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf)).cast(pa.string())


def _ids(prefix: str, numbers: Arr, width: int) -> pa.Array:
    return _fixed(len(numbers), [prefix.encode(), (numbers, width)])


def _ymd(days: Arr) -> tuple[Arr, Arr, Arr]:
    d64 = days.astype("datetime64[D]")
    m64 = d64.astype("datetime64[M]")
    year = m64.astype(np.int64) // 12 + 1970
    month = m64.astype(np.int64) % 12 + 1
    day = (d64 - m64.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def _format_ts(sec: Arr, sep: bytes = b" ", date_sep: bytes = b"-", suffix: bytes = b"") -> pa.Array:
    """Epoch seconds (local time) as ``YYYY-MM-DD HH:MM:SS`` strings."""
    days, sod = np.divmod(sec, 86400)
    y, m, d = _ymd(days)
    parts: list[bytes | tuple[Arr, int]] = [
        (y, 4),
        date_sep,
        (m, 2),
        date_sep,
        (d, 2),
        sep,
        (sod // 3600, 2),
        b":",
        (sod // 60 % 60, 2),
        b":",
        (sod % 60, 2),
    ]
    if suffix:
        parts.append(suffix)
    return _fixed(len(sec), parts)


def _format_date(days: Arr, sep: bytes) -> pa.Array:
    y, m, d = _ymd(days)
    return _fixed(len(days), [(y, 4), sep, (m, 2), sep, (d, 2)])


def _masked(arr: pa.Array, null: Arr) -> pa.Array:
    """``arr`` with nulls where ``null`` is true."""
    return pc.if_else(pa.array(null), pa.scalar(None, arr.type), arr)


def _take(values: pa.Array, idx: Arr) -> pa.Array:
    """``values[idx]`` with null wherever ``idx < 0``."""
    idx = np.asarray(idx, np.int64)
    return values.take(pa.array(np.where(idx < 0, 0, idx), mask=idx < 0))


def _dict(values: pa.Array, idx: Arr) -> pa.DictionaryArray:
    """``values[idx]`` as a dictionary array (null where ``idx < 0``): no copy of the strings."""
    idx = np.asarray(idx)
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(idx < 0, 0, idx).astype(np.int32), mask=idx < 0), values
    )


def _expand(counts: Arr) -> tuple[Arr, Arr, Arr]:
    """Owner index, position within owner and owner start for ``counts`` children per owner."""
    counts = np.asarray(counts, np.int64)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(len(counts)), counts)
    pos = np.arange(int(counts.sum())) - starts[owner]
    return owner, pos, starts


def _random_tokens(rng: np.random.Generator, n: int, width: int, alphabet: bytes) -> pa.Array:
    table = np.frombuffer(alphabet, np.uint8)
    buf = table[rng.integers(0, len(table), (n, width))].astype(np.uint8)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf)).cast(pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class _Calendar:
    n_days: int
    day0: int  # start as days since 1970-01-01
    cum: Arr  # cumulative day weights, length n_days + 1
    month_start: Arr  # day index of the first of each day's month
    spike: Arr  # bool: a shopping festival day (Double 11, 618, Double 12)

    def sample_days(self, rng: np.random.Generator, lo: Arr, hi: Arr) -> Arr:
        """One day in ``[lo, hi)`` per entry, weighted by the seasonal day weights."""
        u = self.cum[lo] + rng.random(len(lo)) * (self.cum[hi] - self.cum[lo])
        return np.clip(np.searchsorted(self.cum, u, side="right") - 1, lo, hi - 1)


def _make_calendar(start: date, end: date) -> _Calendar:
    n_days = (end - start).days + 1
    d0 = np.datetime64(start, "D")
    dates = d0 + np.arange(n_days)
    day0 = int((d0 - np.datetime64("1970-01-01", "D")).astype(np.int64))
    weekday = (dates.astype(np.int64) + 3) % 7
    _, month, dom = _ymd(dates.astype(np.int64))
    w = np.ones(n_days)
    w[weekday >= 5] *= 1.25
    w[(month == 11) & (dom <= 10)] *= 1.5
    w[(month == 11) & (dom == 11)] *= 6.0
    w[(month == 11) & (dom == 12)] *= 2.0
    w[(month == 6) & (dom < 18)] *= 1.3
    w[(month == 6) & (dom == 18)] *= 4.0
    w[(month == 12) & (dom == 12)] *= 2.5
    for sf in _SPRING_FESTIVAL:
        k = int((np.datetime64(sf, "D") - d0).astype(np.int64))
        w[max(k - 18, 0) : max(k, 0)] *= 1.4
        w[max(k, 0) : max(k + 7, 0)] *= 0.45
    spike = ((month == 11) & (dom == 11)) | ((month == 6) & (dom == 18)) | ((month == 12) & (dom == 12))
    month_start = (dates.astype("datetime64[M]").astype("datetime64[D]") - d0).astype(np.int64)
    return _Calendar(n_days, day0, np.concatenate([[0.0], np.cumsum(w)]), month_start, spike)


# --------------------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Catalog:
    table: pa.Table  # products.csv, rows in sku order
    sku: pa.Array  # sku string per internal index (internal = sorted by leaf, price)
    price: Arr
    top_weights: Arr
    leaf_offset: Arr  # per top: first leaf index
    leaf_count: Arr  # per top: number of leaves
    bucket_offset: Arr  # per leaf*4 + quartile
    bucket_count: Arr

    def pick(self, rng: np.random.Generator, top_pref: Arr, high: Arr) -> Arr:
        """Internal sku indices: 72 % from the preferred top category, price quartile by taste."""
        m = len(top_pref)
        top = np.where(
            rng.random(m) < 0.72, top_pref, rng.choice(len(self.top_weights), m, p=self.top_weights)
        )
        leaf = self.leaf_offset[top] + (rng.random(m) * self.leaf_count[top]).astype(np.int64)
        u = rng.random(m)
        q = np.where(high, np.searchsorted(_Q_HIGH, u * _Q_HIGH[-1]), np.searchsorted(_Q_LOW, u * _Q_LOW[-1]))
        b = leaf * 4 + np.minimum(q, 3)
        return self.bucket_offset[b] + (rng.random(m) * self.bucket_count[b]).astype(np.int64)


def _make_catalog(rng: np.random.Generator, n_customers: int) -> _Catalog:
    n_leaves = len(_LEAVES)
    n_sku = int(np.clip(2000 * (n_customers / 20_000) ** 0.15, 400, 5000))
    per_leaf = 8 + rng.multinomial(n_sku - 8 * n_leaves, np.full(n_leaves, 1 / n_leaves))
    leaf = np.repeat(np.arange(n_leaves), per_leaf)
    median = np.array([lf[2] for lf in _LEAVES])[leaf]
    raw = median * np.exp(rng.normal(0.0, 0.55, len(leaf)))
    price = np.where(
        raw >= 100, np.floor(raw / 10) * 10 + 9, np.where(raw >= 20, np.floor(raw) + 0.9, np.round(raw, 1))
    )
    price = np.maximum(price, 1.9)
    order = np.lexsort((price, leaf))
    leaf, price = leaf[order], price[order]
    _, pos, _starts = _expand(per_leaf)
    quart = pos * 4 // per_leaf[leaf]
    bucket = leaf * 4 + quart
    bucket_count = np.bincount(bucket, minlength=4 * n_leaves)
    bucket_offset = np.cumsum(bucket_count) - bucket_count
    tops = np.array([lf[0] for lf in _LEAVES])
    leaf_count = np.bincount(tops, minlength=len(_TOPS))
    leaf_offset = np.cumsum(leaf_count) - leaf_count
    top_w = np.array([t[2] for t in _TOPS])
    # sku numbers are shuffled so they do not reveal the price rank
    number = 100_001 + rng.permutation(len(leaf))
    sku = _ids("SKU", number, 6)
    brand_pick = rng.integers(0, 1000, len(leaf))
    adj_pick = rng.integers(0, len(_ADJECTIVES), len(leaf))
    spec_pick = rng.integers(0, 1000, len(leaf))
    names, brands, cats = [], [], []
    for i, lf in enumerate(leaf.tolist()):  # catalogue-sized loop (a few thousand), not per customer
        top_i, path, _, specs = _LEAVES[lf]
        top_name, top_brands, _ = _TOPS[top_i]
        b = top_brands[brand_pick[i] % len(top_brands)]
        names.append(
            f"{b} {_ADJECTIVES[adj_pick[i]]}{path.rsplit('/', 1)[1]} {specs[spec_pick[i] % len(specs)]}"
        )
        brands.append(b)
        cats.append(f"{top_name}/{path}")
    table = pa.table(
        {
            "sku": sku,
            "name": _strings(names),
            "category": _strings(cats),
            "brand": _strings(brands),
            "list_price": pa.array(price, pa.float64()),
        }
    ).take(pa.array(np.argsort(number)))
    return _Catalog(
        table, sku, price, top_w / top_w.sum(), leaf_offset, leaf_count, bucket_offset, bucket_count
    )


# --------------------------------------------------------------------------- persons


@dataclass
class _Persons:
    n: int
    gender: Arr  # 0 male, 1 female
    surname: Arr
    first: Arr  # index into the gender's char pool; -1 = single-char given name
    last: Arr
    birth: Arr  # days since epoch
    phone: Arr  # int64, 11 digits
    email: pa.Array  # nullable
    city: Arr
    occupation: Arr  # -1 = none
    s: Arr  # first active day (index into the window)
    e: Arr  # end of activity (exclusive day index)
    k: Arr  # number of orders
    has_crm: Arr
    has_app: Arr
    has_unionid: Arr
    p_online: Arr
    platform: Arr
    pay: Arr
    top_pref: Arr
    store: Arr
    payday: Arr
    promo: Arr
    night: Arr
    high: Arr
    loyal: Arr
    churned: Arr
    loyal_first: Arr
    loyal_interval: Arr
    consent: Arr


def _make_persons(rng: np.random.Generator, n: int, cal: _Calendar, n_stores: int) -> _Persons:
    D = cal.n_days
    gender = (rng.random(n) < 0.55).astype(np.int64)
    sw = np.array([s[3] for s in _SURNAMES])
    surname = rng.choice(len(_SURNAMES), n, p=sw / sw.sum())
    pool = np.where(gender == 1, len(_FEMALE_CHARS), len(_MALE_CHARS))
    last = (rng.random(n) * pool).astype(np.int64)
    first = np.where(rng.random(n) < 0.25, -1, (rng.random(n) * pool).astype(np.int64))
    age = np.clip(rng.gamma(6.0, 6.0, n) + 16, 18, 75)
    birth = cal.day0 - (age * 365.25).astype(np.int64)
    prefixes = np.array(
        [
            130,
            131,
            132,
            133,
            135,
            136,
            137,
            138,
            139,
            150,
            151,
            152,
            155,
            156,
            157,
            158,
            159,
            166,
            176,
            177,
            180,
            181,
            182,
            183,
            185,
            186,
            187,
            188,
            189,
            191,
            198,
            199,
        ],
        np.int64,
    )
    cand = rng.choice(prefixes, int(n * 1.05) + 16) * 10**8 + rng.integers(0, 10**8, int(n * 1.05) + 16)
    cand = cand[cand != int(PLACEHOLDER_PHONE)]
    _uniq, first_seen = np.unique(cand, return_index=True)
    phone = cand[np.sort(first_seen)][:n]
    cw = np.array([c[3] for c in _CITIES])
    city = rng.choice(len(_CITIES), n, p=cw / cw.sum())
    occupation = np.where(rng.random(n) < 0.15, -1, rng.integers(0, len(_OCCUPATIONS), n))

    # activity window and order count
    existing = rng.random(n) < 0.55
    s = np.where(existing, 0, rng.integers(0, max(D - 60, 1), n))
    e = np.full(n, D, np.int64)
    kind = rng.random(n)
    repeat = np.ceil(np.exp(rng.normal(np.log(8.0), 1.0, n)) * np.maximum((D - s) / D, 0.15))
    k = np.where(kind < 0.07, 0, np.where(kind < 0.33, 1, np.clip(repeat, 2, 300))).astype(np.int64)
    has_crm = rng.random(n) < 0.85
    has_app = rng.random(n) < 0.60
    identifiable = has_crm | has_app
    p_online = np.where(has_app, rng.beta(2.0, 2.2, n), 0.0)
    p_online = np.where(has_app & ~has_crm, 1.0, p_online)

    # churn: active buyers who stop in the last nine months
    churn_window = min(274, D // 3)
    churn_ok = k >= 3
    churned = churn_ok & (rng.random(n) < min(0.95, 0.15 * n / max(churn_ok.sum(), 1)))
    c = D - rng.integers(1, churn_window + 1, n)
    e = np.where(churned, c, e)
    s = np.where(churned, np.minimum(s, np.maximum(c - 150, 0)), s)

    # loyal repurchasers: regular interval, at least 12 orders, always identifiable
    span = e - s
    loyal_ok = identifiable & (span >= 13 * 14) & (k >= 2)
    loyal = loyal_ok & (rng.random(n) < min(0.95, 0.10 * n / max(loyal_ok.sum(), 1)))
    interval = rng.uniform(14.0, np.maximum(np.minimum(45.0, span / 13), 14.0))
    loyal_first = s + (rng.random(n) * interval).astype(np.int64)
    k_loyal = np.floor((e - 1 - loyal_first) / interval).astype(np.int64) + 1
    k = np.where(loyal, np.maximum(k_loyal, 1), k)

    # habits need repetition to show: only persons with ≥ ~7 expected attributable orders
    attributable = k * (has_app * p_online + has_crm * (1 - p_online) * 0.97)
    eligible = identifiable & (attributable >= 7)

    def plant(share: float, ok: Arr) -> Arr:
        return ok & (rng.random(n) < min(0.9, share * n / max(int(ok.sum()), 1)))

    payday = plant(0.10, eligible & ~loyal)
    promo = plant(0.15, eligible)
    night = plant(0.08, eligible & has_app & (p_online >= 0.5))
    p_online = np.where(night, np.maximum(p_online, 0.9), p_online)
    high = plant(0.12, eligible)

    tw = np.array([t[2] for t in _TOPS])
    top_pref = rng.choice(len(_TOPS), n, p=tw / tw.sum())
    platform = rng.choice(3, n, p=[0.40, 0.45, 0.15])
    pay = rng.choice(4, n, p=[0.45, 0.40, 0.08, 0.07])
    store = rng.integers(0, n_stores, n)
    consent = rng.random(n) < 0.65
    has_unionid = rng.random(n) < 0.6

    # e-mail: QQ numbers or pinyin + digits, de-duplicated
    chars_py = [np.array([c[3] for c in _MALE_CHARS] + [""]), np.array([c[3] for c in _FEMALE_CHARS] + [""])]
    sur_py = np.array([x[2] for x in _SURNAMES])[surname]
    nf, nm = len(_FEMALE_CHARS), len(_MALE_CHARS)
    first_py = np.where(gender == 1, chars_py[1][np.minimum(first, nf)], chars_py[0][np.minimum(first, nm)])
    last_py = np.where(gender == 1, chars_py[1][np.minimum(last, nf)], chars_py[0][np.minimum(last, nm)])
    year = _ymd(birth)[0] % 100
    local = np.char.add(np.char.add(sur_py, first_py), last_py)
    local = np.where(rng.random(n) < 0.5, np.char.add(local, np.char.zfill(year.astype(str), 2)), local)
    qq = rng.integers(10**5, 10**10, n).astype(str)
    domain = rng.choice(len(_EMAIL_DOMAINS), n, p=[0.35, 0.2, 0.1, 0.1, 0.1, 0.05, 0.1])
    local = np.where(domain == 0, qq, local)
    dup = (
        pd.Series(np.char.add(np.char.add(local, "@"), np.array(_EMAIL_DOMAINS)[domain]))
        .duplicated()
        .to_numpy()
    )
    local = np.where(dup, np.char.add(local, np.char.mod("%d", np.arange(n))), local)
    email_np = np.char.add(np.char.add(local, "@"), np.array(_EMAIL_DOMAINS)[domain])
    email = _masked(pa.array(email_np.tolist(), pa.string()), rng.random(n) < 0.35)

    return _Persons(
        n=n,
        gender=gender,
        surname=surname,
        first=first,
        last=last,
        birth=birth,
        phone=phone,
        email=email,
        city=city,
        occupation=occupation,
        s=s,
        e=e,
        k=k,
        has_crm=has_crm,
        has_app=has_app,
        has_unionid=has_unionid,
        p_online=p_online,
        platform=platform,
        pay=pay,
        top_pref=top_pref,
        store=store,
        payday=payday,
        promo=promo,
        night=night,
        high=high,
        loyal=loyal,
        churned=churned,
        loyal_first=loyal_first,
        loyal_interval=interval,
        consent=consent,
    )


def _names(p: _Persons) -> dict[str, pa.Array]:
    """True name and its typo variants (homophone, traditional, full-width space), one per person."""
    pools = []
    for chars in (_MALE_CHARS, _FEMALE_CHARS):
        pools.append({k: _strings([c[i] for c in chars] + [""]) for i, k in enumerate(("s", "t", "h"))})
    sur = _strings([x[0] for x in _SURNAMES]).take(pa.array(p.surname))
    sur_t = _strings([x[1] for x in _SURNAMES]).take(pa.array(p.surname))
    female = pa.array(p.gender == 1)

    def pick(kind: str, idx: Arr) -> pa.Array:
        f = pools[1][kind].take(pa.array(np.minimum(idx, len(_FEMALE_CHARS))))
        m = pools[0][kind].take(pa.array(np.minimum(idx, len(_MALE_CHARS))))
        return pc.if_else(female, f, m)

    first = np.where(p.first < 0, np.where(p.gender == 1, len(_FEMALE_CHARS), len(_MALE_CHARS)), p.first)
    name = _join(sur, pick("s", first), pick("s", p.last))
    return {
        "name": name,
        "homophone": _join(sur, pick("s", first), pick("h", p.last)),
        "traditional": _join(sur_t, pick("t", first), pick("t", p.last)),
        "spaced": _join(sur, "\u3000", pick("s", first), pick("s", p.last)),
    }


def _phone_variants(rng: np.random.Generator, phone: Arr) -> pa.Array:
    """The same numbers as a CRM or app would hold them: six formats, some full-width."""
    n = len(phone)
    digits = _fixed(n, [(phone, 11)])
    a = pc.utf8_slice_codeunits(digits, 0, 3)
    b = pc.utf8_slice_codeunits(digits, 3, 7)
    c = pc.utf8_slice_codeunits(digits, 7, 11)
    style = rng.choice(6, n, p=[0.55, 0.12, 0.1, 0.08, 0.07, 0.08]).astype(np.int8)
    out = pc.choose(
        pa.array(style),
        digits,
        _join(a, " ", b, " ", c),
        _join("+86 ", a, "-", b, "-", c),
        _join("86 ", digits),
        _join("(+86)", digits),
        _join("+86", digits),
    )
    wide = rng.random(n) < 0.02
    if wide.any():
        fw = out
        for d in range(10):
            fw = pc.replace_substring(fw, str(d), chr(0xFF10 + d))
        out = pc.if_else(pa.array(wide), fw, out)
    return out


# --------------------------------------------------------------------------- orders


@dataclass
class _Orders:
    person: Arr
    ts: Arr  # epoch seconds, sorted
    online: Arr
    lines: Arr
    discount_flag: Arr
    depth: Arr
    status: Arr  # 0 paid, 1 cancelled, 2 refunded (store: 0 paid, 2 refunded)
    platform: Arr
    pay: Arr
    store: Arr
    card_row: Arr  # CRM row whose card was shown, -1 = guest
    item_sku: Arr
    item_qty: Arr
    item_order: Arr
    item_pos: Arr
    gross: Arr
    discount: Arr
    amount: Arr


def _hours(rng: np.random.Generator, n: int, night: Arr, store: Arr) -> Arr:
    h_on = rng.choice(24, n, p=_HOUR_ONLINE / _HOUR_ONLINE.sum())
    h_st = rng.choice(24, n, p=_HOUR_STORE / _HOUR_STORE.sum())
    h_night = np.where(store, 22, rng.choice(_NIGHT_HOURS, n, p=_NIGHT_P))
    return np.where(night & (rng.random(n) < 0.8), h_night, np.where(store, h_st, h_on))


def _make_orders(
    rng: np.random.Generator,
    p: _Persons,
    cal: _Calendar,
    cat: _Catalog,
    crm_primary: Arr,
    crm_dup: Arr,
    dup_reg: Arr,
    n_stores: int,
) -> _Orders:
    owner, pos, _ = _expand(p.k)
    m = len(owner)
    day = cal.sample_days(rng, p.s[owner], p.e[owner])
    lo = p.loyal[owner]
    jitter = rng.normal(0.0, 0.15, m) * p.loyal_interval[owner]
    day_loyal = np.round(p.loyal_first[owner] + pos * p.loyal_interval[owner] + jitter).astype(np.int64)
    day = np.where(lo, np.clip(day_loyal, p.s[owner], p.e[owner] - 1), day)
    shift = p.payday[owner] & (rng.random(m) < 0.85)
    moved = cal.month_start[day] + 9 + rng.integers(0, 5, m)
    ok = shift & (moved >= p.s[owner]) & (moved < p.e[owner])
    day = np.where(ok, moved, day)

    online = p.has_app[owner] & (rng.random(m) < p.p_online[owner])
    hour = _hours(rng, m, p.night[owner], ~online)
    ts = (cal.day0 + day) * 86400 + hour * 3600 + rng.integers(0, 3600, m)
    order = np.argsort(ts, kind="stable")
    owner, ts, online, day = owner[order], ts[order], online[order], day[order]

    lines = np.minimum(1 + rng.poisson(0.4, m), 8)
    p_disc = np.where(p.promo[owner], 0.85, 0.09 + 0.25 * cal.spike[day])
    discount_flag = rng.random(m) < p_disc
    depth = np.where(p.promo[owner], rng.uniform(0.15, 0.30, m), rng.uniform(0.05, 0.15, m))
    end_ts = (cal.day0 + p.e[owner]) * 86400
    u = rng.random(m)
    can_refund = ts + 11 * 86400 < end_ts
    status = np.where(
        online,
        np.where(u < 0.06, 1, np.where((u < 0.10) & can_refund, 2, 0)),
        np.where((u < 0.03) & can_refund, 2, 0),
    )
    platform = np.where(rng.random(m) < 0.8, p.platform[owner], rng.integers(0, 3, m))
    pay = np.where(rng.random(m) < 0.75, p.pay[owner], rng.integers(0, 4, m))
    pay = np.where(online & (platform == 1) & (rng.random(m) < 0.9), 1, pay)
    store = np.where(rng.random(m) < 0.85, p.store[owner], rng.integers(0, n_stores, m))
    use_dup = (crm_dup[owner] >= 0) & (ts > dup_reg[owner]) & (rng.random(m) < 0.5)
    card_row = np.where(use_dup, crm_dup[owner], crm_primary[owner])
    forgot = ~p.loyal[owner] & (rng.random(m) < 0.03)
    card_row = np.where(online | forgot, -1, card_row)

    item_order, item_pos, _ = _expand(lines)
    item_person = owner[item_order]
    item_sku = cat.pick(rng, p.top_pref[item_person], p.high[item_person])
    item_qty = 1 + rng.poisson(0.3, len(item_order))
    line_total = item_qty * cat.price[item_sku]
    gross = np.round(np.bincount(item_order, line_total, minlength=m), 2)
    discount = np.where(discount_flag, np.round(gross * depth, 2), 0.0)
    amount = np.round(gross - discount, 2)
    return _Orders(
        person=owner,
        ts=ts,
        online=online,
        lines=lines,
        discount_flag=discount_flag,
        depth=depth,
        status=status,
        platform=platform,
        pay=pay,
        store=store,
        card_row=card_row,
        item_sku=item_sku,
        item_qty=item_qty,
        item_order=item_order,
        item_pos=item_pos,
        gross=gross,
        discount=discount,
        amount=amount,
    )


# --------------------------------------------------------------------------- writers


def _write_csv(table: pa.Table, path: Path) -> int:
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
    return table.num_rows


def _write_parquet(table: pa.Table, path: Path, dictionary: Sequence[str] = ()) -> int:
    # no stored Arrow schema: dictionary-encoded columns read back as plain strings everywhere
    pq.write_table(
        table,
        path,
        compression="snappy",
        use_dictionary=list(dictionary) or False,
        store_schema=False,
        dictionary_pagesize_limit=64 << 20,
    )
    return table.num_rows


def _write_jsonl(table: pa.Table, path: Path) -> int:
    df = table.to_pandas()
    df = df.astype(object).where(df.notna(), None)
    df.to_json(path, orient="records", lines=True, force_ascii=False)
    return table.num_rows


def _write_xlsx(df: pd.DataFrame, path: Path, sheet: str) -> int:
    """An xlsx with fixed zip timestamps and document dates, so the same data writes the same bytes."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    fixed = datetime(2024, 1, 1)
    wb.properties.creator = "huaxiang"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    ws = wb.create_sheet(sheet)
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):  # at most ~20k rows by construction
        ws.append([None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in row])
    raw = io.BytesIO()
    wb.save(raw)
    raw.seek(0)
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode()
                for tag in ("dcterms:created", "dcterms:modified"):
                    head = text.find(f"<{tag}")
                    close = text.find(f"</{tag}>", head)
                    if head >= 0 and close >= 0:
                        open_end = text.find(">", head) + 1
                        text = text[:open_end] + "2024-01-01T00:00:00Z" + text[close:]
                data = text.encode()
            dst.writestr(zipfile.ZipInfo(info.filename, (2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return len(df)


# --------------------------------------------------------------------------- the shop


def generate_shop(
    out_dir: str | Path,
    *,
    n_customers: int = 20_000,
    seed: int = 42,
    start: date = date(2024, 1, 1),
    end: date = date(2025, 12, 31),
) -> ShopSummary:
    """Write a synthetic Chinese retail shop with planted ground truth into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing; existing files are overwritten).
    n_customers : int, default 20_000
        Number of real persons. About 85 % have a CRM record, 60 % an app account;
        orders average about ten per person.
    seed : int, default 42
        The same seed writes byte-identical files.
    start, end : date
        First and last day of the order history (inclusive).

    Returns
    -------
    ShopSummary
        Rows written per file, the folder and the seconds taken.

    Raises
    ------
    ValueError
        If ``n_customers < 100`` or the window is shorter than 120 days.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     s = generate_shop(tmp, n_customers=500, seed=1)
    ...     sorted(s.rows) == sorted(FILES)
    True
    """
    t0 = time.perf_counter()
    if n_customers < 100:
        raise ValueError(f"n_customers={n_customers}: a synthetic shop needs at least 100 customers")
    if (end - start).days + 1 < 120:
        raise ValueError(f"start={start}, end={end}: the window must cover at least 120 days")
    out = Path(out_dir)
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(seed)
    rngs = [np.random.default_rng(s) for s in root.spawn(12)]
    rows: dict[str, int] = {}

    cal = _make_calendar(start, end)
    n = n_customers
    n_stores = int(np.clip(n // 400, 12, 600))
    cat = _make_catalog(rngs[0], n)
    p = _make_persons(rngs[1], n, cal, n_stores)
    names = _names(p)
    pid = _ids("P", np.arange(1, n + 1), 7)
    phones_e164 = _fixed(n, [b"+86", (p.phone, 11)])

    # ---- CRM rows: one per CRM person, plus a second record for ~2 % of persons (re-registered)
    rng = rngs[2]
    reg_day = np.where(
        p.s == 0, -rng.integers(1, 5 * 365, n), p.s
    )  # existing members registered before the window
    reg_ts = (cal.day0 + reg_day) * 86400 + rng.integers(9 * 3600, 21 * 3600, n)
    dup_ok = p.has_crm & (p.e - p.s >= 120)
    dup = dup_ok & (rng.random(n) < min(0.9, 0.02 * n / max(int(dup_ok.sum()), 1)))
    dup_day = p.s + 30 + (rng.random(n) * np.maximum(p.e - p.s - 60, 1)).astype(np.int64)
    dup_reg = np.where(dup, (cal.day0 + dup_day) * 86400 + rng.integers(9 * 3600, 21 * 3600, n), 2**62)
    crm_person = np.concatenate([np.flatnonzero(p.has_crm), np.flatnonzero(dup)])
    crm_is_dup = np.concatenate([np.zeros(int(p.has_crm.sum()), bool), np.ones(int(dup.sum()), bool)])
    crm_reg = np.where(crm_is_dup, dup_reg[crm_person], reg_ts[crm_person])
    o = np.argsort(crm_reg, kind="stable")
    crm_person, crm_is_dup, crm_reg = crm_person[o], crm_is_dup[o], crm_reg[o]
    nc = len(crm_person)
    crm_primary = np.full(n, -1, np.int64)
    crm_dup = np.full(n, -1, np.int64)
    crm_primary[crm_person[~crm_is_dup]] = np.flatnonzero(~crm_is_dup)
    crm_dup[crm_person[crm_is_dup]] = np.flatnonzero(crm_is_dup)
    member_id = _ids("M", np.arange(1, nc + 1), 7)
    reg_year = _ymd(crm_reg // 86400)[0]
    card = _fixed(nc, [b"C", (reg_year, 4), (np.arange(1, nc + 1), 7)])

    # ---- orders and items
    orders = _make_orders(rngs[3], p, cal, cat, crm_primary, crm_dup, dup_reg, n_stores)

    # ---- app accounts
    rng = rngs[4]
    app_person = np.flatnonzero(p.has_app)
    app_reg_day = np.where(p.s == 0, -rng.integers(1, 4 * 365, n), p.s)
    app_reg = (cal.day0 + app_reg_day) * 86400 + rng.integers(7 * 3600, 23 * 3600, n)
    app_person = app_person[np.argsort(app_reg[app_person], kind="stable")]
    na = len(app_person)
    app_of = np.full(n, -1, np.int64)
    app_of[app_person] = np.arange(na)
    user_id = _ids("U", 10_000_000 + np.arange(1, na + 1), 8)
    # families: ~3 % of devices are shared by 2–3 app users
    device_of_app = np.arange(na)
    n_shared = round(0.03 * na / 1.03 / 1.0)
    heads = rng.choice(na, n_shared, replace=False) if n_shared else np.zeros(0, np.int64)
    others = np.setdiff1d(np.arange(na), heads)
    n_members = np.where(rng.random(n_shared) < 0.7, 1, 2)
    members = rng.choice(others, int(n_members.sum()), replace=False) if n_shared else np.zeros(0, np.int64)
    device_of_app[members] = np.repeat(heads, n_members)
    device_str = _random_tokens(rng, na, 16, b"0123456789abcdef")

    # ---- events
    ev = _make_events(rngs[5], p, cal, cat, orders, app_of, device_of_app)

    # ==================================================================== write: products
    rows["products.csv"] = _write_csv(cat.table, out / "products.csv")

    # ---- crm_members.csv
    rng = rngs[6]
    typo = rng.random(nc) < np.where(crm_is_dup, 0.3, 0.03)
    trad_differs = pc.not_equal(names["traditional"], names["name"]).to_numpy(zero_copy_only=False)
    kind = rng.choice(3, nc, p=[0.45, 0.30, 0.25])
    kind = np.where((kind == 1) & ~trad_differs[crm_person], 0, kind)
    pa_person = pa.array(crm_person)
    crm_name = pc.choose(
        pa.array(np.where(typo, kind + 1, 0).astype(np.int8)),
        names["name"].take(pa_person),
        names["homophone"].take(pa_person),
        names["traditional"].take(pa_person),
        names["spaced"].take(pa_person),
    )
    g = p.gender[crm_person]
    u = rng.random(nc)
    gender_code = np.where(u < 0.01, 4, np.where(u < 0.025, g + 2, g)).astype(np.int8)
    gender = pc.choose(
        pa.array(gender_code),
        _strings(["男"] * nc),
        _strings(["女"] * nc),
        _strings(["M"] * nc),
        _strings(["F"] * nc),
        _strings([""] * nc),
    )
    gender = _masked(gender, gender_code == 4)
    birth = _masked(_format_date(p.birth[crm_person], b"/"), rng.random(nc) < 0.10)
    phone = _phone_variants(rng, p.phone[crm_person])
    u = rng.random(nc)
    phone = pc.if_else(pa.array(u < 0.005), pa.scalar(PLACEHOLDER_PHONE), phone)
    phone = _masked(phone, (u >= 0.005) & (u < 0.055) & ~crm_is_dup)
    email = _noisy_email(rng, p.email.take(pa_person), nc)
    email = _masked(email, rng.random(nc) < 0.08)  # on top of persons without e-mail: ~40 % blank
    province = _strings([c[0] for c in _CITIES]).take(pa.array(p.city[crm_person]))
    city = _strings([c[1] for c in _CITIES]).take(pa.array(p.city[crm_person]))
    city = pc.if_else(pa.array(rng.random(nc) < 0.15), _join(city, "市"), city)
    occ = _take(_strings(_OCCUPATIONS), p.occupation[crm_person])
    k_person = p.k[crm_person]
    level = np.where(k_person >= 40, 3, np.where(k_person >= 15, 2, np.where(k_person >= 5, 1, 0)))
    level = np.where(p.high[crm_person] & (k_person >= 10), 3, level)
    unionid_str = _join(
        "o",
        _random_tokens(rngs[7], n, 27, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
    )
    crm_union = _masked(unionid_str.take(pa_person), ~(p.has_unionid[crm_person] & (rng.random(nc) < 0.83)))
    crm = pa.table(
        {
            "会员编号": member_id,
            "姓名": crm_name,
            "性别": gender,
            "出生日期": birth,
            "手机号": phone,
            "邮箱": email,
            "省份": province,
            "城市": city,
            "职业": occ,
            "会员等级": _strings(_LEVELS).take(pa.array(level)),
            "注册时间": _format_ts(crm_reg),
            "会员卡号": card,
            "unionid": crm_union,
            "营销同意": _strings(["否", "是"]).take(pa.array(p.consent[crm_person].astype(np.int64))),
        }
    )
    rows["crm_members.csv"] = _write_csv(crm, out / "crm_members.csv")

    # ---- app_users.jsonl
    rng = rngs[8]
    pa_app = pa.array(app_person)
    a_phone = _masked(_phone_variants(rng, p.phone[app_person]), rng.random(na) < 0.08)
    a_email = _masked(_noisy_email(rng, p.email.take(pa_app), na), rng.random(na) < 0.45)
    a_platform = p.platform[app_person]
    has_openid = (a_platform == 1) | (rng.random(na) < 0.3)
    openid = _masked(
        _join(
            "oU",
            _random_tokens(rng, na, 26, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
        ),
        ~has_openid,
    )
    a_union = _masked(
        unionid_str.take(pa_app), ~(has_openid & p.has_unionid[app_person] & (rng.random(na) < 0.9))
    )
    nick = _join(
        _strings(_NICK_HEAD).take(pa.array(rng.integers(0, len(_NICK_HEAD), na))),
        _strings(_NICK_TAIL).take(pa.array(rng.integers(0, len(_NICK_TAIL), na))),
        pc.if_else(
            pa.array(rng.random(na) < 0.5), pc.cast(pa.array(rng.integers(1, 9999, na)), pa.string()), ""
        ),
    )
    app = pa.table(
        {
            "user_id": user_id,
            "phone": a_phone,
            "email": a_email,
            "wechat_openid": openid,
            "wechat_unionid": a_union,
            "device_id": device_str.take(pa.array(device_of_app)),
            "nickname": nick,
            "registered_at": _format_ts(app_reg[app_person], sep=b"T", suffix=b"+08:00"),
            "signup_channel": _strings(_PLATFORMS).take(pa.array(a_platform)),
        }
    )
    rows["app_users.jsonl"] = _write_jsonl(app, out / "app_users.jsonl")

    # ---- online orders and items
    on_idx = np.flatnonzero(orders.online)
    st_idx = np.flatnonzero(~orders.online)
    order_num = np.zeros(len(orders.ts), np.int64)
    order_num[on_idx] = np.arange(1, len(on_idx) + 1)
    order_num[st_idx] = np.arange(1, len(st_idx) + 1)
    order_id = _ids("O", 1_000_000_000 + order_num[on_idx], 10)
    ts_ms = pa.array(orders.ts[on_idx] * 1000, pa.timestamp("ms"))
    has_coupon = orders.discount_flag[on_idx] & (rng.random(len(on_idx)) < 0.85)
    coupon_days = orders.ts[on_idx] // 86400
    cy, cm, _ = _ymd(coupon_days)
    coupon = _masked(
        _fixed(len(on_idx), [b"CP", (cy % 100, 2), (cm, 2), (rng.integers(0, 100, len(on_idx)), 2)]),
        ~has_coupon,
    )
    online_tbl = pa.table(
        {
            "order_id": order_id,
            "user_id": user_id.take(pa.array(app_of[orders.person[on_idx]])),
            "order_time": ts_ms,
            "pay_amount": pa.array(orders.amount[on_idx]),
            "discount": pa.array(orders.discount[on_idx]),
            "coupon_id": coupon,
            "platform": _dict(_strings(_PLATFORMS), orders.platform[on_idx]),
            "pay_type": _dict(_strings(_ONLINE_PAY), orders.pay[on_idx]),
            "status": _dict(_strings(_ONLINE_STATUS), orders.status[on_idx]),
        }
    )
    rows["online_orders.parquet"] = _write_parquet(
        online_tbl, out / "online_orders.parquet", ("platform", "pay_type", "status")
    )
    item_online = orders.online[orders.item_order]
    it_on = np.flatnonzero(item_online)
    it_st = np.flatnonzero(~item_online)
    local_num = order_num[orders.item_order]
    sku_per_item = cat.sku.take(pa.array(orders.item_sku))
    items_on = pa.table(
        {
            "order_id": _ids("O", 1_000_000_000 + local_num[it_on], 10),
            "line_no": pa.array(orders.item_pos[it_on] + 1),
            "sku": _dict(cat.sku, orders.item_sku[it_on]),
            "qty": pa.array(orders.item_qty[it_on]),
            "price": pa.array(cat.price[orders.item_sku[it_on]]),
        }
    )
    rows["online_order_items.parquet"] = _write_parquet(
        items_on, out / "online_order_items.parquet", ("sku",)
    )

    # ---- POS
    receipt = _ids("S", 1_000_000_000 + order_num[st_idx], 10)
    spike_st = cal.spike[np.clip(orders.ts[st_idx] // 86400 - cal.day0, 0, cal.n_days - 1)]
    promo_pick = np.where(spike_st, rng.integers(5, 7, len(st_idx)), rng.integers(0, 5, len(st_idx)))
    pos_tbl = pa.table(
        {
            "receipt_no": receipt,
            "store_id": _ids("ST", orders.store[st_idx] + 1, 4),
            "member_card": _take(card, orders.card_row[st_idx]),
            "ts": _format_ts(orders.ts[st_idx]),
            "total": pa.array(orders.amount[st_idx]),
            "discount": pa.array(orders.discount[st_idx]),
            "promo_code": _masked(
                _strings(_PROMO_CODES).take(pa.array(promo_pick)), ~orders.discount_flag[st_idx]
            ),
            "payment": _strings(_STORE_PAY).take(pa.array(orders.pay[st_idx])),
            "status": _strings(_STORE_STATUS).take(pa.array(orders.status[st_idx] // 2)),
        }
    )
    rows["pos_orders.csv"] = _write_csv(pos_tbl, out / "pos_orders.csv")
    items_st = pa.table(
        {
            "receipt_no": _ids("S", 1_000_000_000 + local_num[it_st], 10),
            "line_no": pa.array(orders.item_pos[it_st] + 1),
            "sku": sku_per_item.take(pa.array(it_st)),
            "qty": pa.array(orders.item_qty[it_st]),
            "price": pa.array(cat.price[orders.item_sku[it_st]]),
        }
    )
    rows["pos_order_items.csv"] = _write_csv(items_st, out / "pos_order_items.csv")

    # ---- events
    online_pos = np.full(len(orders.ts), -1, np.int64)
    online_pos[on_idx] = np.arange(len(on_idx))
    ne = len(ev["ts"])
    events = pa.table(
        {
            "event_id": _ids("E", np.arange(1, ne + 1), 10),
            "anonymous_id": _dict(device_str, ev["device"]),
            "user_id": _dict(user_id, ev["user"]),
            "ts": pa.array(ev["ts"] * 1000, pa.timestamp("ms")),
            "event": _dict(_strings(_EVENTS), ev["code"]),
            "channel": _dict(_strings(_PLATFORMS), ev["channel"]),
            "session_id": _ids("SS", ev["session"], 10),
            "sku": _dict(cat.sku, ev["sku"]),
            "order_id": _take(
                order_id, np.where(ev["order"] >= 0, online_pos[np.maximum(ev["order"], 0)], -1)
            ),
        }
    )
    rows["events.parquet"] = _write_parquet(
        events, out / "events.parquet", ("anonymous_id", "user_id", "event", "channel", "sku")
    )

    # ---- service tickets (a sample: at most 20k)
    rng = rngs[9]
    nt = int(min(20_000, max(20, round(0.05 * nc))))
    w = 1.0 + p.k[crm_person]
    t_row = rng.choice(nc, nt, p=w / w.sum())
    t_person = crm_person[t_row]
    t_day = cal.sample_days(rng, p.s[t_person], p.e[t_person])
    t_ts = (cal.day0 + t_day) * 86400 + rng.integers(8 * 3600, 22 * 3600, nt)
    t_ts = np.sort(t_ts)
    t_type = rng.choice(3, nt, p=[0.25, 0.5, 0.25])
    sat = np.clip(np.round(rng.normal(np.where(t_type == 0, 2.3, 4.2), 1.0)), 1, 5)
    text_pick = [
        _TICKET_TEXT[t][i % len(_TICKET_TEXT[t])]
        for t, i in zip(t_type.tolist(), rng.integers(0, 60, nt).tolist(), strict=True)
    ]  # ≤ 20k rows
    tickets = pd.DataFrame(
        {
            "工单号": _ids("TK", np.arange(1, nt + 1), 7).to_pylist(),
            "会员编号": member_id.take(pa.array(t_row)).to_pylist(),
            "创建时间": pd.to_datetime(t_ts, unit="s").to_pydatetime().tolist(),
            "类型": [_TICKET_TYPES[t] for t in t_type.tolist()],
            "满意度": [
                None if b else int(v)
                for v, b in zip(sat.tolist(), (rng.random(nt) < 0.2).tolist(), strict=True)
            ],
            "内容": text_pick,
        }
    )
    rows["service_tickets.xlsx"] = _write_xlsx(tickets, out / "service_tickets.xlsx", "tickets")

    # ---- reviews
    paid_on = on_idx[orders.status[on_idx] != 1]
    r_ord = paid_on[rng.random(len(paid_on)) < 0.06]
    r_person = orders.person[r_ord]
    r_ts = orders.ts[r_ord] + rng.integers(86400, 9 * 86400, len(r_ord))
    keep = r_ts < (cal.day0 + p.e[r_person]) * 86400
    r_ord, r_person, r_ts = r_ord[keep], r_person[keep], r_ts[keep]
    nr = len(r_ord)
    rating = np.where(
        orders.status[r_ord] == 2,
        rng.integers(1, 3, nr),
        rng.choice(5, nr, p=[0.04, 0.04, 0.12, 0.3, 0.5]) + 1,
    )
    texts = [t for group in _REVIEW_TEXT for t in group]
    offsets = np.cumsum([0] + [len(gr) for gr in _REVIEW_TEXT])
    counts = np.diff(offsets)
    text_idx = offsets[rating - 1] + (rng.random(nr) * counts[rating - 1]).astype(np.int64)
    reviews = pa.table(
        {
            "review_id": _ids("R", np.arange(1, nr + 1), 8),
            "user_id": user_id.take(pa.array(app_of[r_person])),
            "ts": _format_ts(r_ts, sep=b"T", suffix=b"+08:00"),
            "rating": pa.array(rating),
            "text": _strings(texts).take(pa.array(text_idx)),
        }
    )
    rows["reviews.jsonl"] = _write_jsonl(reviews, out / "reviews.jsonl")

    # ---- campaign touches
    touches = _make_touches(rngs[10], p, cal, crm_person, crm_reg, member_id)
    rows["campaign_touches.csv"] = _write_csv(touches, out / "campaign_touches.csv")

    # ==================================================================== ground truth
    pos_cards = np.unique(orders.card_row[st_idx][orders.card_row[st_idx] >= 0])
    records = pa.table(
        {
            "source": pa.concat_arrays(
                [_strings(["crm"] * nc), _strings(["app"] * na), _strings(["pos"] * len(pos_cards))]
            ),
            "source_customer_id": pa.concat_arrays([member_id, user_id, card.take(pa.array(pos_cards))]),
            "person_id": pa.concat_arrays(
                [
                    pid.take(pa.array(crm_person)),
                    pid.take(pa.array(app_person)),
                    pid.take(pa.array(crm_person[pos_cards])),
                ]
            ),
        }
    )
    rows["ground_truth/records.csv"] = _write_csv(records, out / "ground_truth" / "records.csv")
    churn_date = _masked(_format_date(cal.day0 + p.e, b"-"), ~p.churned)
    persons = pa.table(
        {
            "person_id": pid,
            "name": names["name"],
            "phone": phones_e164,
            "email": p.email,
            "city": _strings([c[1] for c in _CITIES]).take(pa.array(p.city)),
            "birth_date": _format_date(p.birth, b"-"),
            "payday_shopper": pa.array(p.payday),
            "promotion_sensitive": pa.array(p.promo),
            "night_owl": pa.array(p.night),
            "high_price": pa.array(p.high),
            "loyal_repurchaser": pa.array(p.loyal),
            "churned_at": churn_date,
            "preferred_category": _strings([t[0] for t in _TOPS]).take(pa.array(p.top_pref)),
        }
    )
    rows["ground_truth/persons.csv"] = _write_csv(persons, out / "ground_truth" / "persons.csv")
    return ShopSummary(out, {f: rows[f] for f in FILES}, time.perf_counter() - t0)


def _noisy_email(rng: np.random.Generator, email: pa.Array, n: int) -> pa.Array:
    """Case and surrounding-whitespace noise, as typed into a form."""
    style = rng.choice(5, n, p=[0.8, 0.07, 0.05, 0.05, 0.03]).astype(np.int8)
    return pc.choose(
        pa.array(style),
        email,
        pc.utf8_upper(email),
        pc.utf8_capitalize(email),
        _join(" ", email),
        _join(email, "  "),
    )


def _make_events(
    rng: np.random.Generator,
    p: _Persons,
    cal: _Calendar,
    cat: _Catalog,
    orders: _Orders,
    app_of: Arr,
    device_of_app: Arr,
) -> dict[str, Arr]:
    """Behaviour events: one purchase session per online order, a return visit per refund, browsing."""
    on = np.flatnonzero(orders.online)
    no = len(on)
    person_o = orders.person[on]
    lines = orders.lines[on]
    status = orders.status[on]
    paid = status != 1
    pv = rng.random(no) < 0.2
    n_ev = pv + 2 * lines + 2 + paid
    owner, r, starts = _expand(n_ev)
    rr = r - pv[owner]
    l2 = 2 * lines[owner]
    code = np.where(
        rr < 0,
        _PV,
        np.where(
            rr < l2,
            np.where(rr % 2 == 0, _PRV, _PA),
            np.where(rr == l2, _CS, np.where(rr == l2 + 1, _OC, _PC)),
        ),
    )
    item_start = np.cumsum(orders.lines) - orders.lines
    line = np.clip(rr // 2, 0, None)
    sku = np.where(
        (rr >= 0) & (rr < l2), orders.item_sku[item_start[on[owner]] + np.minimum(line, lines[owner] - 1)], -1
    )
    gap = np.exp(rng.normal(np.log(np.where(code == _PC, 15.0, np.where(code == _OC, 40.0, 25.0))), 0.8))
    gap[r == 0] = 0.0
    cum = np.cumsum(gap)
    cum_s = cum - cum[starts[owner]]
    oc = starts + pv + 2 * lines + 1
    t_p = orders.ts[on][owner] + np.round(cum_s - cum_s[oc[owner]]).astype(np.int64)
    login = np.where(rng.random(no) < 0.6, 0, (rng.random(no) * (pv + 2 * lines + 1)).astype(np.int64))
    user_p = np.where(r >= login[owner], app_of[person_o[owner]], -1)
    order_p = np.where(code >= _OC, on[owner], -1)
    chan_p = orders.platform[on][owner]
    sess_p = owner

    # after-sale: a return request a few days later, in its own session
    ref = np.flatnonzero(status == 2)
    t_r = orders.ts[on][ref] + rng.integers(86400, 10 * 86400, len(ref))
    n_base = no

    # browsing sessions, most of which only view
    k_online = np.bincount(person_o, minlength=p.n)
    lam = np.where(p.has_app, 1.7 * k_online + 0.7, 0.0)
    n_sess = rng.poisson(lam)
    s_person, _, _ = _expand(n_sess)
    ns = len(s_person)
    templates = np.array(
        [[_PV, -1, -1], [_PV, _PRV, -1], [_PS, _PRV, -1], [_PRV, _PA, -1], [_PRV, _PW, -1], [_PRV, _PA, _CS]]
    )
    t_len = (templates >= 0).sum(axis=1)
    s_type = rng.choice(len(templates), ns, p=[0.35, 0.33, 0.17, 0.09, 0.04, 0.02])
    s_day = cal.sample_days(rng, p.s[s_person], p.e[s_person])
    s_hour = _hours(rng, ns, p.night[s_person], np.zeros(ns, bool))
    s_start = (cal.day0 + s_day) * 86400 + s_hour * 3600 + rng.integers(0, 3600, ns)
    s_owner, s_r, s_starts = _expand(t_len[s_type])
    x_code = templates[s_type[s_owner], s_r]
    x_gap = np.exp(rng.normal(np.log(30.0), 0.9, len(s_owner)))
    x_gap[s_r == 0] = 0.0
    x_cum = np.cumsum(x_gap)
    x_t = s_start[s_owner] + np.round(x_cum - x_cum[s_starts[s_owner]]).astype(np.int64)
    x_person = s_person[s_owner]
    product = (x_code == _PRV) | (x_code == _PA) | (x_code == _PW)
    x_sku = np.where(product, cat.pick(rng, p.top_pref[x_person], p.high[x_person]), -1)
    logged = rng.random(ns) < 0.5
    x_user = np.where(logged[s_owner], app_of[x_person], -1)
    s_chan = np.where(rng.random(ns) < 0.8, p.platform[s_person], rng.integers(0, 3, ns))

    person_all = np.concatenate([person_o[owner], person_o[ref], x_person])
    ts = np.concatenate([t_p, t_r, x_t])
    lo = cal.day0 * 86400
    hi = (cal.day0 + p.e[person_all]) * 86400 - 1
    ts = np.clip(ts, lo, hi)
    n_sessions = n_base + len(ref) + ns
    session_perm = 1 + rng.permutation(n_sessions)
    session = np.concatenate([sess_p, n_base + np.arange(len(ref)), n_base + len(ref) + s_owner])
    return {
        "ts": ts,
        "code": np.concatenate([code, np.full(len(ref), _RR), x_code]),
        "sku": np.concatenate([sku, np.full(len(ref), -1), x_sku]),
        "order": np.concatenate([order_p, on[ref], np.full(len(x_code), -1)]),
        "user": np.concatenate([user_p, app_of[person_o[ref]], x_user]),
        "device": device_of_app[app_of[person_all]],
        "channel": np.concatenate([chan_p, orders.platform[on][ref], s_chan[s_owner]]),
        "session": session_perm[session],
    }


def _make_touches(
    rng: np.random.Generator, p: _Persons, cal: _Calendar, crm_person: Arr, crm_reg: Arr, member_id: pa.Array
) -> pa.Table:
    """Monthly campaigns plus festival warm-ups to consenting members: sent ⊃ opened ⊃ clicked ⊃ converted."""
    camp_day = np.concatenate([np.unique(cal.month_start) + 7, np.flatnonzero(cal.spike) - 8])
    camp_day = np.unique(camp_day[(camp_day >= 0) & (camp_day < cal.n_days)])
    ncamp = len(camp_day)
    consent = p.consent[crm_person]
    rows_c, cols_c = np.nonzero(consent[:, None] & (rng.random((len(crm_person), ncamp)) < 0.15))
    send_ts = (cal.day0 + camp_day[cols_c]) * 86400 + 10 * 3600 + rng.integers(0, 1800, len(rows_c))
    ok = crm_reg[rows_c] < send_ts
    rows_c, cols_c, send_ts = rows_c[ok], cols_c[ok], send_ts[ok]
    person = crm_person[rows_c]
    promo = p.promo[person]
    end_ts = (cal.day0 + p.e[person]) * 86400
    m = len(rows_c)
    open_ts = send_ts + rng.integers(600, 2 * 86400, m)
    click_ts = open_ts + rng.integers(5, 600, m)
    conv_ts = click_ts + rng.integers(60, 6 * 3600, m)
    opened = (rng.random(m) < np.where(promo, 0.45, 0.3)) & (open_ts < end_ts)
    clicked = opened & (rng.random(m) < np.where(promo, 0.6, 0.2)) & (click_ts < end_ts)
    converted = clicked & (rng.random(m) < np.where(promo, 0.6, 0.1)) & (conv_ts < end_ts)
    sel = [np.ones(m, bool), opened, clicked, converted]
    idx = np.concatenate([np.flatnonzero(s) for s in sel])
    action = np.concatenate([np.full(int(s.sum()), i) for i, s in enumerate(sel)])
    ts = np.concatenate([send_ts[sel[0]], open_ts[opened], click_ts[clicked], conv_ts[converted]])
    o = np.lexsort((action, ts))
    idx, action, ts = idx[o], action[o], ts[o]
    cy, cmo, cd = _ymd(camp_day + cal.day0)
    camp_id = _fixed(ncamp, [b"CMP", (cy, 4), (cmo, 2), (cd, 2)])
    return pa.table(
        {
            "touch_id": _ids("T", np.arange(1, len(idx) + 1), 9),
            "member_id": member_id.take(pa.array(rows_c[idx])),
            "campaign_id": camp_id.take(pa.array(cols_c[idx])),
            "ts": _format_ts(ts),
            "action": _strings(["sent", "opened", "clicked", "converted"]).take(pa.array(action)),
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m huaxiang.datasets.synthetic OUT --customers N --seed S``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     main([tmp, "--customers", "300"])
    0
    """
    parser = argparse.ArgumentParser(description="Write a synthetic Chinese retail shop with ground truth.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    args = parser.parse_args(argv)
    summary = generate_shop(
        args.out, n_customers=args.customers, seed=args.seed, start=args.start, end=args.end
    )
    if argv is None:
        print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
