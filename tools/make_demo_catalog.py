"""Generate the demo catalogue and dark-store bin layout used by demos and tests.

Writes two files (overwritten each run; the output is deterministic, so re-running
gives byte-identical files -- every random choice comes from ``random.Random(2026)``):

``store_config/demo_catalog.csv``
    The catalogue in the import format of ``app.catalog.csv_io``:
    ``sku,name,barcodes,price,gst_rate,hsn,unit,pack_size,category,active,reorder_level``.

    * Packaged goods (unit ``piece``) use real Indian brands with approximate MRPs.
      Their EAN-13s are made up but well formed: GS1 India prefix ``890`` + a
      company number fixed per brand (4 or 5 digits, derived from the brand name,
      so it does not change when products are added) + item digits + the GS1
      check digit from ``app.catalog.barcodes.gtin_check_digit``. About 10 % carry
      a second EAN-13 (old and new pack) and a handful of small packs an EAN-8
      (``890`` + 4 digits + check digit). These codes are fictitious: they are not
      the codes printed on the real packs.
    * Loose goods sold by weight (unit ``kg``, price per kg, reorder level in grams)
      or by volume (unit ``litre``, price per litre, reorder level in ml) carry the
      variable-measure *base* code for the store rule ``21.....{NNDDD}``:
      ``21`` + 5-digit PLU + ``00000`` + check digit. PLUs 001xx are fruit and
      vegetables, 002xx loose staples, 003xx loose oils.
    * GST rates and HSN codes follow the usual retail classification. Rates are
      written per family in the pre-2025 slabs and mapped by ``gst_2025`` to the
      slabs in force since 22 September 2025 (0, 5, 18, 40 %): 12 % goods went to
      5 %, aerated and caffeinated drinks to 40 %, and many daily-use goods
      (biscuits, namkeen, chocolates, noodles, coffee, soap, toothpaste, hair
      oil, shampoo) from 18 % to 5 %. They are demo data, not tax advice.
    * Rows are sorted by category, then name.

``store_config/demo_bins.csv``
    ``code,zone,aisle,shelf,pick_seq`` for a small dark store. Bin codes are
    ``<aisle>-<bay>-<shelf>`` (e.g. ``A-01-2``), shelves 1-4 counted from the floor.

    zone       aisles          bays   bins
    AMBIENT    A B C D E F     01-08   192
    PRODUCE    PR              01-05    20
    CHILLED    CH              01-04    16
    FROZEN     FZ              01-03    12
    BACKROOM   BK              --        1  (BACK-01: overflow, pick_seq 9999)

    ``pick_seq`` is a serpentine walk so a picker passes through each aisle once:
    A bays ascending, B descending, C ascending, ... F descending, then produce,
    chilled and finally frozen (cold items are picked last). Within a bay shelves
    go 1 -> 4. Sequence numbers step by 10 so bins can be inserted later without
    renumbering.

Regenerate (and self-check) from the repository root with::

    .venv/bin/python tools/make_demo_catalog.py
"""

from __future__ import annotations

import csv
import random
import re
import sys
import zlib
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from stdnum import ean as stdnum_ean

from app.catalog.barcodes import gtin_check_digit

ROOT = Path(__file__).resolve().parents[1]
CATALOG_PATH = ROOT / "store_config" / "demo_catalog.csv"
BINS_PATH = ROOT / "store_config" / "demo_bins.csv"
SEED = 2026

CATALOG_COLUMNS = (
    "sku", "name", "barcodes", "price", "gst_rate", "hsn", "unit", "pack_size",
    "category", "active", "reorder_level",
)
BIN_COLUMNS = ("code", "zone", "aisle", "shelf", "pick_seq")
GST_SLABS = {"0", "5", "18", "40"}
# HSN headings whose 18 % goods moved to 5 % in the September 2025 GST reform.
EIGHTEEN_TO_FIVE = ("1704", "1806", "1901", "1902", "1905", "2101", "2103", "2104", "2105",
                    "2106", "0901", "3305", "3306", "3401", "9603", "9619")


def gst_2025(old_rate: int, hsn: str) -> int:
    """Map a pre-reform GST rate to the rate in force since 22 September 2025."""
    if old_rate == 12:
        return 5
    if old_rate == 28:
        return 40
    if old_rate == 18 and hsn.startswith(EIGHTEEN_TO_FIVE):
        return 5
    return old_rate


class Family(NamedTuple):
    """One product line; each (pack, price) pair becomes its own SKU."""

    stem: str  # SKU stem, the pack size is appended: ATA-AASH -> ATA-AASH-5KG
    brand: str  # decides the GS1 company number
    name: str  # the pack size is appended: "... Atta" -> "... Atta 5 kg"
    hsn: str
    gst: int
    sizes: tuple[tuple[str, str], ...]


def F(stem: str, brand: str, name: str, hsn: str, gst: int, *sizes: tuple[str, str]) -> Family:
    return Family(stem, brand, name, hsn, gst, sizes)


# --------------------------------------------------------------------------- packaged goods
STAPLES = "Atta, Rice & Dals"
OILS = "Oils & Ghee"
MASALA = "Masala & Spices"
DAIRY = "Dairy & Eggs"
BAKERY = "Bakery"
SNACKS = "Snacks & Namkeen"
BISCUITS = "Biscuits"
BEVERAGES = "Beverages"
INSTANT = "Instant Food"
BREAKFAST = "Breakfast & Spreads"
SWEETS = "Sweets & Chocolates"
PERSONAL = "Personal Care"
HOUSEHOLD = "Household & Cleaning"
BABY = "Baby Care"
FROZEN = "Frozen"
POOJA = "Pooja Items"
STATIONERY = "Stationery"
PRODUCE = "Fruits & Vegetables"
LOOSE = "Loose Staples"

PACKAGED: dict[str, list[Family]] = {
    STAPLES: [
        F("ATA-AASH", "Aashirvaad", "Aashirvaad Shudh Chakki Atta", "1101", 5,
          ("1 kg", "68"), ("5 kg", "285"), ("10 kg", "545")),
        F("ATA-AASL", "Aashirvaad", "Aashirvaad Select Sharbati Atta", "1101", 5,
          ("5 kg", "365")),
        F("ATA-PILL", "Pillsbury", "Pillsbury Chakki Fresh Atta", "1101", 5, ("5 kg", "265")),
        F("ATA-FORT", "Fortune", "Fortune Chakki Fresh Atta", "1101", 5,
          ("5 kg", "255"), ("10 kg", "495")),
        F("MDA-RAJD", "Rajdhani", "Rajdhani Maida", "1101", 5, ("1 kg", "52")),
        F("BSN-RAJD", "Rajdhani", "Rajdhani Besan", "1106", 5, ("500 g", "68"), ("1 kg", "130")),
        F("SJI-FORT", "Fortune", "Fortune Rava (Sooji)", "1103", 5, ("500 g", "38")),
        F("RIC-INGC", "India Gate", "India Gate Basmati Rice Classic", "1006", 5,
          ("1 kg", "215"), ("5 kg", "999")),
        F("RIC-INGF", "India Gate", "India Gate Feast Rozzana Basmati Rice", "1006", 5,
          ("1 kg", "110"), ("5 kg", "520")),
        F("RIC-DAWT", "Daawat", "Daawat Rozana Super Basmati Rice", "1006", 5,
          ("1 kg", "105"), ("5 kg", "499")),
        F("RIC-FBIR", "Fortune", "Fortune Biryani Special Basmati Rice", "1006", 5,
          ("1 kg", "180")),
        F("RIC-24SM", "24 Mantra", "24 Mantra Organic Sona Masoori Rice", "1006", 5,
          ("5 kg", "475")),
        F("DAL-TTOR", "Tata Sampann", "Tata Sampann Unpolished Toor Dal", "0713", 5,
          ("500 g", "98"), ("1 kg", "189")),
        F("DAL-TMNG", "Tata Sampann", "Tata Sampann Unpolished Moong Dal", "0713", 5,
          ("500 g", "85"), ("1 kg", "165")),
        F("DAL-TCHN", "Tata Sampann", "Tata Sampann Unpolished Chana Dal", "0713", 5,
          ("500 g", "62"), ("1 kg", "118")),
        F("DAL-TURD", "Tata Sampann", "Tata Sampann Unpolished Urad Dal", "0713", 5,
          ("1 kg", "175")),
        F("DAL-TMSR", "Tata Sampann", "Tata Sampann Unpolished Masoor Dal", "0713", 5,
          ("1 kg", "128")),
        F("DAL-TKBC", "Tata Sampann", "Tata Sampann Kabuli Chana", "0713", 5, ("500 g", "95")),
        F("DAL-24RJ", "24 Mantra", "24 Mantra Organic Rajma", "0713", 5, ("500 g", "115")),
        F("POH-RAJD", "Rajdhani", "Rajdhani Poha (Thick)", "1904", 5, ("500 g", "45")),
    ],
    OILS: [
        F("OIL-FSUN", "Fortune", "Fortune Sunlite Refined Sunflower Oil", "1512", 5,
          ("1 L", "165"), ("5 L", "799")),
        F("OIL-SFGD", "Saffola", "Saffola Gold Refined Cooking Oil", "1515", 5,
          ("1 L", "199"), ("5 L", "975")),
        F("OIL-FMUS", "Fortune", "Fortune Kachi Ghani Pure Mustard Oil", "1514", 5,
          ("1 L", "175"), ("5 L", "849")),
        F("OIL-PMRK", "P Mark", "P Mark Kachi Ghani Mustard Oil", "1514", 5, ("1 L", "180")),
        F("OIL-DHAR", "Dhara", "Dhara Kachi Ghani Mustard Oil", "1514", 5, ("1 L", "172")),
        F("OIL-FSOY", "Fortune", "Fortune Soya Health Refined Soyabean Oil", "1507", 5,
          ("1 L", "145")),
        F("OIL-GEMN", "Gemini", "Gemini Refined Sunflower Oil", "1512", 5, ("1 L", "160")),
        F("OIL-FGND", "Fortune", "Fortune Filtered Groundnut Oil", "1508", 5, ("1 L", "220")),
        F("OIL-FRBR", "Fortune", "Fortune Rice Bran Health Oil", "1515", 5, ("1 L", "175")),
        F("OIL-FIGR", "Figaro", "Figaro Pure Olive Oil", "1509", 5, ("500 ml", "649")),
        F("OIL-IDHM", "Idhayam", "Idhayam Sesame Oil", "1515", 5, ("1 L", "390")),
        F("GHE-AMUL", "Amul", "Amul Pure Ghee", "04059020", 12,
          ("500 ml", "330"), ("1 L", "650")),
        F("GHE-PATN", "Patanjali", "Patanjali Cow's Ghee", "04059020", 12,
          ("500 ml", "335"), ("1 L", "640")),
        F("GHE-GWDN", "Gowardhan", "Gowardhan Pure Cow Ghee", "04059020", 12, ("1 L", "690")),
        F("GHE-NAND", "Nandini", "Nandini Pure Ghee", "04059020", 12, ("500 ml", "320")),
        F("VAN-DALD", "Dalda", "Dalda Vanaspati", "1516", 5, ("1 L", "155")),
    ],
    MASALA: [
        F("SLT-TATA", "Tata Salt", "Tata Salt Vacuum Evaporated Iodised Salt", "2501", 0,
          ("1 kg", "28")),
        F("SLT-TLIT", "Tata Salt", "Tata Salt Lite Low Sodium Salt", "2501", 0, ("1 kg", "48")),
        F("SUG-MDHR", "Madhur", "Madhur Pure & Hygienic Sugar", "1701", 5,
          ("1 kg", "58.50"), ("5 kg", "285")),
        F("MSL-MDHG", "MDH", "MDH Garam Masala", "0910", 5, ("100 g", "90")),
        F("MSL-MDHC", "MDH", "MDH Chana Masala", "0910", 5, ("100 g", "80")),
        F("MSL-MDHK", "MDH", "MDH Kitchen King Masala", "0910", 5, ("100 g", "88")),
        F("MSL-EVCP", "Everest", "Everest Tikhalal Chilli Powder", "0904", 5,
          ("100 g", "48"), ("500 g", "215")),
        F("MSL-EVTP", "Everest", "Everest Turmeric Powder", "0910", 5,
          ("100 g", "36"), ("200 g", "68")),
        F("MSL-EVCK", "Everest", "Everest Chicken Masala", "0910", 5, ("100 g", "78")),
        F("MSL-EVPB", "Everest", "Everest Pav Bhaji Masala", "0910", 5, ("100 g", "76")),
        F("MSL-EVJR", "Everest", "Everest Jeera (Cumin Seeds)", "0909", 5, ("100 g", "72")),
        F("MSL-CTCD", "Catch", "Catch Coriander Powder", "0909", 5,
          ("100 g", "36"), ("200 g", "68")),
        F("MSL-CTBP", "Catch", "Catch Black Pepper Powder", "0904", 5, ("100 g", "120")),
        F("MSL-MTRS", "MTR", "MTR Sambar Powder", "0910", 5, ("100 g", "65"), ("200 g", "118")),
        F("MSL-BDGM", "Badshah", "Badshah Rajwadi Garam Masala", "0910", 5, ("100 g", "95")),
        F("MSL-AACP", "Aachi", "Aachi Chilli Powder", "0904", 5, ("200 g", "95")),
    ],
    DAIRY: [
        F("MLK-AMTZ", "Amul", "Amul Taaza Toned Milk", "0401", 0,
          ("500 ml", "28"), ("1 L", "56")),
        F("MLK-AMGL", "Amul", "Amul Gold Full Cream Milk", "0401", 0,
          ("500 ml", "34"), ("1 L", "68")),
        F("MLK-AMTT", "Amul", "Amul Taaza Homogenised Toned Milk (UHT Tetra)", "0401", 5,
          ("1 L", "74")),
        F("MLK-MDTN", "Mother Dairy", "Mother Dairy Toned Milk", "0401", 0, ("500 ml", "28")),
        F("MLK-MDCW", "Mother Dairy", "Mother Dairy Cow Milk", "0401", 0, ("500 ml", "29")),
        F("MLK-NDTN", "Nandini", "Nandini Toned Milk", "0401", 0, ("500 ml", "24")),
        F("CRD-AMMD", "Amul", "Amul Masti Dahi", "0403", 5, ("400 g", "35"), ("1 kg", "77")),
        F("CRD-MDCL", "Mother Dairy", "Mother Dairy Classic Dahi", "0403", 5, ("400 g", "50")),
        F("PNR-AMUL", "Amul", "Amul Malai Paneer", "0406", 5, ("200 g", "90")),
        F("PNR-MTDR", "Mother Dairy", "Mother Dairy Paneer", "0406", 5, ("200 g", "95")),
        F("BTR-AMUL", "Amul", "Amul Pasteurised Butter", "0405", 12,
          ("100 g", "58"), ("500 g", "285")),
        F("CHS-AMSL", "Amul", "Amul Cheese Slices", "0406", 12, ("200 g", "150")),
        F("CHS-BRSL", "Britannia", "Britannia Cheese Slices", "0406", 12, ("200 g", "145")),
        F("BTM-AMMS", "Amul", "Amul Masti Spiced Buttermilk", "0403", 5, ("200 ml", "15")),
        F("FMK-AMKK", "Amul", "Amul Kool Kesar Flavoured Milk", "2202", 12, ("180 ml", "25")),
        F("CNM-AMMM", "Amul", "Amul Mithai Mate Sweetened Condensed Milk", "0402", 5,
          ("400 g", "140")),
        F("CRM-AMFC", "Amul", "Amul Fresh Cream", "0401", 5, ("250 ml", "67")),
        F("EGG-EGOZ", "Eggoz", "Eggoz Nutrition Brown Eggs", "0407", 0,
          ("6 pcs", "90"), ("12 pcs", "170")),
        F("EGG-HENF", "Henfruit", "Henfruit Classic White Eggs", "0407", 0,
          ("6 pcs", "60"), ("30 pcs", "270")),
    ],
    BAKERY: [
        F("BRD-BRWW", "Britannia", "Britannia 100% Whole Wheat Bread", "1905", 0,
          ("400 g", "55")),
        F("BRD-BRMK", "Britannia", "Britannia Milk Bread", "1905", 0, ("400 g", "45")),
        F("BRD-HGWB", "Harvest Gold", "Harvest Gold White Bread", "1905", 0,
          ("400 g", "40"), ("700 g", "65")),
        F("BRD-MDWW", "Modern", "Modern 100% Whole Wheat Bread", "1905", 0, ("400 g", "50")),
        F("BRD-EOMG", "English Oven", "English Oven Multigrain Bread", "1905", 0,
          ("450 g", "60")),
        F("PAV-HGLD", "Harvest Gold", "Harvest Gold Pav", "1905", 0, ("250 g", "35")),
        F("BUN-EOBG", "English Oven", "English Oven Burger Buns", "1905", 5, ("200 g", "40")),
        F("PZB-EOPB", "English Oven", "English Oven Pizza Base", "1905", 5, ("200 g", "45")),
        F("RSK-BRTT", "Britannia", "Britannia Toastea Premium Bake Rusk", "1905", 5,
          ("300 g", "55"), ("600 g", "99")),
        F("RSK-PRLE", "Parle", "Parle Rusk Elaichi", "1905", 5, ("300 g", "48")),
        F("CAK-BRFC", "Britannia", "Britannia Fruit Cake", "1905", 18, ("250 g", "80")),
        F("CAK-WNKS", "Winkies", "Winkies Classic Fruit Cake", "1905", 18, ("250 g", "90")),
    ],
    SNACKS: [
        F("NMK-HLBS", "Haldiram's", "Haldiram's Bhujia Sev", "2106", 12,
          ("200 g", "55"), ("400 g", "105"), ("1 kg", "240")),
        F("NMK-HLAB", "Haldiram's", "Haldiram's Aloo Bhujia", "2106", 12,
          ("200 g", "55"), ("400 g", "105")),
        F("NMK-HLKM", "Haldiram's", "Haldiram's Khatta Meetha", "2106", 12, ("200 g", "55")),
        F("NMK-HLMD", "Haldiram's", "Haldiram's Moong Dal", "2106", 12, ("200 g", "55")),
        F("NMK-HLNR", "Haldiram's", "Haldiram's Navrattan Mix", "2106", 12, ("200 g", "55")),
        F("NMK-BKBB", "Bikaji", "Bikaji Bikaneri Bhujia", "2106", 12,
          ("200 g", "55"), ("400 g", "105")),
        F("NMK-BKRS", "Bikaji", "Bikaji Ratlami Sev", "2106", 12, ("200 g", "55")),
        F("NUT-HLSP", "Haldiram's", "Haldiram's Salted Peanuts", "2008", 12, ("200 g", "55")),
        F("CHP-LYMM", "Lay's", "Lay's India's Magic Masala Potato Chips", "2005", 12,
          ("52 g", "20"), ("90 g", "30")),
        F("CHP-LYCS", "Lay's", "Lay's Classic Salted Potato Chips", "2005", 12, ("52 g", "20")),
        F("CHP-LYCO", "Lay's", "Lay's American Style Cream & Onion Potato Chips", "2005", 12,
          ("52 g", "20")),
        F("CHP-UNCL", "Uncle Chipps", "Uncle Chipps Spicy Treat", "2005", 12, ("50 g", "20")),
        F("CHP-BLJW", "Balaji", "Balaji Simply Salted Wafers", "2005", 12, ("45 g", "10")),
        F("CHP-PRSC", "Pringles", "Pringles Sour Cream & Onion", "2005", 12, ("107 g", "110")),
        F("EXT-KRMM", "Kurkure", "Kurkure Masala Munch", "1904", 18,
          ("75 g", "20"), ("150 g", "40")),
        F("EXT-BGMA", "Bingo", "Bingo Mad Angles Achaari Masti", "1904", 18, ("66 g", "20")),
        F("EXT-BGTM", "Bingo", "Bingo Tedhe Medhe Masala Tadka", "1904", 18, ("90 g", "20")),
        F("EXT-TYMC", "Too Yumm!", "Too Yumm! Multigrain Chips Chinese Hot & Sour", "1904", 18,
          ("54 g", "20")),
        F("MKN-FMPP", "Farmley", "Farmley Roasted Makhana Peri Peri", "2008", 12,
          ("60 g", "99")),
    ],
    BISCUITS: [
        F("BIS-PRLG", "Parle", "Parle-G Biscuits", "1905", 18, ("250 g", "25"), ("800 g", "80")),
        F("BIS-PRMN", "Parle", "Parle Monaco Classic Salted Biscuits", "1905", 18,
          ("200 g", "35")),
        F("BIS-PRKJ", "Parle", "Parle Krackjack Sweet & Salty Biscuits", "1905", 18,
          ("200 g", "35")),
        F("BIS-PRHS", "Parle", "Parle Hide & Seek Chocolate Chip Cookies", "1905", 18,
          ("100 g", "30"), ("200 g", "60")),
        F("BIS-PR20", "Parle", "Parle 20-20 Butter Cookies", "1905", 18, ("200 g", "40")),
        F("BIS-BRMG", "Britannia", "Britannia Marie Gold", "1905", 18, ("250 g", "40")),
        F("BIS-BRGD", "Britannia", "Britannia Good Day Cashew Cookies", "1905", 18,
          ("200 g", "40")),
        F("BIS-BRBN", "Britannia", "Britannia Bourbon Chocolate Cream Biscuits", "1905", 18,
          ("150 g", "35")),
        F("BIS-BRND", "Britannia", "Britannia NutriChoice Digestive", "1905", 18,
          ("250 g", "70")),
        F("BIS-BRJJ", "Britannia", "Britannia Jim Jam Cream Biscuits", "1905", 18,
          ("150 g", "35")),
        F("BIS-BR55", "Britannia", "Britannia 50-50 Maska Chaska", "1905", 18, ("120 g", "20")),
        F("BIS-SFDF", "Sunfeast", "Sunfeast Dark Fantasy Choco Fills", "1905", 18,
          ("75 g", "40"), ("300 g", "160")),
        F("BIS-SFMM", "Sunfeast", "Sunfeast Mom's Magic Cashew & Almonds", "1905", 18,
          ("200 g", "50")),
        F("BIS-SFML", "Sunfeast", "Sunfeast Marie Light", "1905", 18, ("250 g", "35")),
        F("BIS-OREO", "Oreo", "Oreo Original Vanilla Creme Biscuits", "1905", 18,
          ("120 g", "35")),
        F("BIS-UNBC", "Unibic", "Unibic Cashew Cookies", "1905", 18, ("150 g", "45")),
        F("BIS-MCVD", "McVitie's", "McVitie's Digestive Biscuits", "1905", 18, ("250 g", "90")),
    ],
    BEVERAGES: [
        F("TEA-TTPR", "Tata Tea", "Tata Tea Premium", "0902", 5,
          ("250 g", "150"), ("1 kg", "560")),
        F("TEA-TTGD", "Tata Tea", "Tata Tea Gold", "0902", 5, ("500 g", "335")),
        F("TEA-BBRL", "Brooke Bond", "Brooke Bond Red Label Tea", "0902", 5,
          ("250 g", "140"), ("500 g", "280")),
        F("TEA-BBTM", "Brooke Bond", "Brooke Bond Taj Mahal Tea", "0902", 5, ("250 g", "195")),
        F("TEA-WGBK", "Wagh Bakri", "Wagh Bakri Premium Leaf Tea", "0902", 5, ("250 g", "140")),
        F("TEA-TTGT", "Tetley", "Tetley Green Tea Lemon & Honey Tea Bags", "0902", 5,
          ("25 pcs", "170")),
        F("COF-NSCL", "Nescafe", "Nescafe Classic Instant Coffee", "2101", 18,
          ("50 g", "190"), ("100 g", "360")),
        F("COF-BRUI", "Bru", "Bru Instant Coffee", "2101", 18, ("100 g", "240")),
        F("COF-BRGF", "Bru", "Bru Green Label Filter Coffee", "0901", 5, ("500 g", "280")),
        F("JUC-RLMF", "Real", "Real Fruit Power Mixed Fruit Juice", "2009", 12, ("1 L", "125")),
        F("JUC-TRPO", "Tropicana", "Tropicana 100% Orange Juice", "2009", 12, ("1 L", "140")),
        F("FDR-PBAR", "Paper Boat", "Paper Boat Aamras", "2202", 12, ("250 ml", "35")),
        F("FDR-FROT", "Frooti", "Frooti Mango Drink", "2202", 12, ("600 ml", "40")),
        F("FDR-MAZA", "Maaza", "Maaza Mango Drink", "2202", 12,
          ("600 ml", "42"), ("1.2 L", "75")),
        F("SFT-COKE", "Coca-Cola", "Coca-Cola Soft Drink", "2202", 28,
          ("750 ml", "40"), ("2.25 L", "100")),
        F("SFT-THUP", "Thums Up", "Thums Up Soft Drink", "2202", 28,
          ("750 ml", "40"), ("1.25 L", "65")),
        F("SFT-SPRT", "Sprite", "Sprite Lime Soft Drink", "2202", 28, ("750 ml", "40")),
        F("SFT-PEPS", "Pepsi", "Pepsi Soft Drink", "2202", 28, ("750 ml", "40")),
        F("SFT-MDEW", "Mountain Dew", "Mountain Dew Soft Drink", "2202", 28, ("750 ml", "40")),
        F("ENR-RDBL", "Red Bull", "Red Bull Energy Drink", "2202", 28, ("250 ml", "125")),
        F("WTR-BSLR", "Bisleri", "Bisleri Packaged Drinking Water", "2201", 18,
          ("1 L", "20"), ("5 L", "75")),
        F("WTR-KNLY", "Kinley", "Kinley Packaged Drinking Water", "2201", 18, ("1 L", "20")),
        F("HDR-BRNV", "Cadbury", "Cadbury Bournvita Health Drink", "1901", 18,
          ("500 g", "245"), ("1 kg", "465")),
        F("HDR-HRLK", "Horlicks", "Horlicks Classic Malt Health Drink", "1901", 18,
          ("500 g", "265")),
        F("HDR-GLCD", "Glucon-D", "Glucon-D Original Instant Energy", "1702", 18,
          ("500 g", "190")),
        F("SHB-RHAF", "Hamdard", "Hamdard Rooh Afza Sharbat", "2106", 12, ("750 ml", "185")),
    ],
    INSTANT: [
        F("NDL-MAGI", "Maggi", "Maggi 2-Minute Masala Noodles", "1902", 18,
          ("70 g", "14"), ("280 g", "56"), ("560 g", "108")),
        F("NDL-YPEE", "Sunfeast", "Sunfeast YiPPee! Magic Masala Noodles", "1902", 18,
          ("280 g", "60")),
        F("NDL-CHSZ", "Ching's Secret", "Ching's Secret Schezwan Instant Noodles", "1902", 18,
          ("240 g", "60")),
        F("NDL-NSCN", "Nissin", "Nissin Cup Noodles Mazedaar Masala", "1902", 18,
          ("70 g", "50")),
        F("PST-MGPZ", "Maggi", "Maggi Pazzta Masala Penne", "1902", 18, ("64 g", "25")),
        F("PST-BMBV", "Bambino", "Bambino Roasted Vermicelli", "1902", 12, ("400 g", "60")),
        F("SUP-KNTT", "Knorr", "Knorr Classic Thick Tomato Soup", "2104", 18, ("53 g", "65")),
        F("SUP-KNHS", "Knorr", "Knorr Chinese Hot & Sour Veg Soup", "2104", 18, ("41 g", "60")),
        F("RTE-MTPB", "MTR", "MTR Ready to Eat Paneer Butter Masala", "2106", 12,
          ("300 g", "135")),
        F("RTE-MTDM", "MTR", "MTR Ready to Eat Dal Makhani", "2106", 12, ("300 g", "110")),
        F("MIX-GTRI", "Gits", "Gits Rava Idli Mix", "1901", 18, ("500 g", "150")),
        F("MIX-MTRD", "MTR", "MTR Rava Dosa Mix", "1901", 18, ("500 g", "145")),
        F("MIX-MTGJ", "MTR", "MTR Gulab Jamun Mix", "1901", 18, ("175 g", "110")),
        F("SAU-KSTK", "Kissan", "Kissan Fresh Tomato Ketchup", "2103", 12,
          ("500 g", "95"), ("1 kg", "160")),
        F("SAU-MGHS", "Maggi", "Maggi Hot & Sweet Tomato Chilli Sauce", "2103", 12,
          ("500 g", "120")),
        F("SAU-CHSC", "Ching's Secret", "Ching's Secret Schezwan Chutney", "2103", 12,
          ("250 g", "99")),
        F("PKL-MRMP", "Mother's Recipe", "Mother's Recipe Mango Pickle", "2001", 12,
          ("500 g", "125")),
        F("PPD-LJPM", "Lijjat", "Lijjat Punjabi Masala Papad", "19059040", 0, ("200 g", "68")),
    ],
    BREAKFAST: [
        F("CRL-KLCF", "Kellogg's", "Kellogg's Corn Flakes Original", "1904", 18,
          ("250 g", "105"), ("475 g", "195")),
        F("CRL-KLCH", "Kellogg's", "Kellogg's Chocos", "1904", 18, ("375 g", "195")),
        F("CRL-KLMS", "Kellogg's", "Kellogg's Muesli Fruit & Nut", "1904", 18,
          ("500 g", "399")),
        F("OAT-QKRO", "Quaker", "Quaker Oats", "1104", 18, ("500 g", "120"), ("1 kg", "215")),
        F("OAT-BGWO", "Bagrry's", "Bagrry's White Oats", "1104", 18, ("1 kg", "185")),
        F("OAT-SFMO", "Saffola", "Saffola Masala Oats Classic Masala", "1904", 18,
          ("500 g", "199")),
        F("SPR-KSMF", "Kissan", "Kissan Mixed Fruit Jam", "2007", 12,
          ("200 g", "80"), ("500 g", "180")),
        F("SPR-DBHN", "Dabur", "Dabur Honey", "0409", 5, ("250 g", "135"), ("500 g", "230")),
        F("SPR-PTHN", "Patanjali", "Patanjali Pure Honey", "0409", 5, ("500 g", "190")),
        F("SPR-NTLA", "Nutella", "Nutella Hazelnut Spread with Cocoa", "1806", 18,
          ("350 g", "399")),
        F("SPR-PNTL", "Pintola", "Pintola Classic Peanut Butter Crunchy", "2008", 12,
          ("1 kg", "400")),
        F("SPR-FFVM", "Dr. Oetker FunFoods", "Dr. Oetker FunFoods Veg Mayonnaise", "2103", 12,
          ("250 g", "99")),
    ],
    SWEETS: [
        F("CHC-CDDM", "Cadbury", "Cadbury Dairy Milk Chocolate", "1806", 18,
          ("13 g", "10"), ("50 g", "50")),
        F("CHC-CDSK", "Cadbury", "Cadbury Dairy Milk Silk", "1806", 18, ("60 g", "90")),
        F("CHC-CD5S", "Cadbury", "Cadbury 5 Star", "1806", 18, ("22 g", "10")),
        F("CHC-CDPK", "Cadbury", "Cadbury Perk", "1806", 18, ("13 g", "10")),
        F("CHC-CDCL", "Cadbury", "Cadbury Celebrations Assorted Chocolates", "1806", 18,
          ("125 g", "150")),
        F("CHC-NKKT", "Nestle", "Nestle KitKat 4 Finger", "1806", 18, ("37 g", "30")),
        F("CHC-AMDK", "Amul", "Amul Dark Chocolate 55%", "1806", 18, ("150 g", "200")),
        F("CHC-AMFN", "Amul", "Amul Fruit & Nut Chocolate", "1806", 18, ("150 g", "180")),
        F("CHC-FRRC", "Ferrero", "Ferrero Rocher", "1806", 18, ("200 g", "650")),
        F("CNF-PRPP", "Parle", "Parle Poppins Fruit Candies", "1704", 18, ("22 g", "5")),
        F("CNF-PRKM", "Parle", "Parle Kaccha Mango Bite Candy", "1704", 18, ("290 g", "100")),
        F("CNF-PLSE", "Pulse", "Pass Pass Pulse Kachcha Aam Candy", "1704", 18,
          ("280 g", "100")),
        F("SWT-HLRG", "Haldiram's", "Haldiram's Rasgulla (Tin)", "2106", 5, ("1 kg", "225")),
        F("SWT-HLGJ", "Haldiram's", "Haldiram's Gulab Jamun (Tin)", "2106", 5, ("1 kg", "235")),
        F("SWT-HLSP", "Haldiram's", "Haldiram's Soan Papdi", "2106", 5,
          ("250 g", "75"), ("500 g", "140")),
        F("SWT-HLKK", "Haldiram's", "Haldiram's Kaju Katli", "2106", 5, ("200 g", "250")),
    ],
    PERSONAL: [
        F("SOP-LFBY", "Lifebuoy", "Lifebuoy Total 10 Germ Protection Soap", "3401", 18,
          ("125 g", "38")),
        F("SOP-LUXR", "Lux", "Lux Soft Glow Rose & Vitamin E Soap", "3401", 18,
          ("150 g", "50")),
        F("SOP-DTOR", "Dettol", "Dettol Original Germ Protection Soap", "3401", 18,
          ("75 g", "35"), ("125 g", "58")),
        F("SOP-SNTR", "Santoor", "Santoor Sandal & Turmeric Soap", "3401", 18,
          ("100 g", "35"), ("150 g", "48")),
        F("SOP-DOVE", "Dove", "Dove Cream Beauty Bathing Bar", "3401", 18, ("100 g", "65")),
        F("SOP-MDMX", "Medimix", "Medimix Ayurvedic Classic 18 Herbs Soap", "3401", 18,
          ("125 g", "48")),
        F("SOP-PERS", "Pears", "Pears Pure & Gentle Soap", "3401", 18, ("125 g", "75")),
        F("TPS-CLST", "Colgate", "Colgate Strong Teeth Toothpaste", "3306", 18,
          ("100 g", "58"), ("200 g", "115")),
        F("TPS-CLMF", "Colgate", "Colgate MaxFresh Red Gel Toothpaste", "3306", 18,
          ("150 g", "110")),
        F("TPS-PPGC", "Pepsodent", "Pepsodent Germicheck Toothpaste", "3306", 18,
          ("150 g", "95")),
        F("TPS-CLUP", "Closeup", "Closeup Ever Fresh Red Hot Gel Toothpaste", "3306", 18,
          ("150 g", "110")),
        F("TPS-SNSD", "Sensodyne", "Sensodyne Fresh Mint Toothpaste", "3306", 18,
          ("75 g", "150")),
        F("TPS-DBRD", "Dabur", "Dabur Red Paste", "3306", 18, ("200 g", "125")),
        F("TBR-CLZZ", "Colgate", "Colgate ZigZag Medium Toothbrush", "9603", 18,
          ("1 pc", "40")),
        F("SHP-CLPS", "Clinic Plus", "Clinic Plus Strong & Long Shampoo", "3305", 18,
          ("175 ml", "105"), ("340 ml", "200")),
        F("SHP-HNSC", "Head & Shoulders", "Head & Shoulders Anti-Dandruff Shampoo", "3305", 18,
          ("180 ml", "190")),
        F("SHP-SNSK", "Sunsilk", "Sunsilk Stunning Black Shine Shampoo", "3305", 18,
          ("180 ml", "140")),
        F("SHP-DVIR", "Dove", "Dove Intense Repair Shampoo", "3305", 18, ("180 ml", "190")),
        F("HOI-PRCH", "Parachute", "Parachute 100% Pure Coconut Oil", "1513", 5,
          ("200 ml", "95"), ("500 ml", "225")),
        F("HOI-DBAM", "Dabur", "Dabur Amla Hair Oil", "3305", 18, ("200 ml", "115")),
        F("HOI-BJAD", "Bajaj", "Bajaj Almond Drops Hair Oil", "3305", 18, ("200 ml", "150")),
        F("HOI-NVRT", "Navratna", "Navratna Ayurvedic Cool Oil", "3305", 18, ("200 ml", "140")),
        F("FWS-HMNM", "Himalaya", "Himalaya Purifying Neem Face Wash", "3304", 18,
          ("100 ml", "155"), ("150 ml", "210")),
        F("CRM-NVSL", "Nivea", "Nivea Soft Light Moisturising Cream", "3304", 18,
          ("100 ml", "199")),
        F("CRM-VSDM", "Vaseline", "Vaseline Intensive Care Deep Moisture Body Lotion", "3304",
          18, ("200 ml", "250")),
        F("CRM-BRLN", "Boroline", "Boroline Antiseptic Ayurvedic Cream", "3004", 12,
          ("20 g", "45")),
        F("TLC-PNDF", "Pond's", "Pond's Dreamflower Fragrant Talc", "3304", 18,
          ("100 g", "95")),
        F("SHV-GLGD", "Gillette", "Gillette Guard Razor", "8212", 18, ("1 pc", "28")),
        F("DEO-FGMR", "Fogg", "Fogg Marco Body Spray", "3307", 18, ("150 ml", "275")),
        F("SNP-WSXL", "Whisper", "Whisper Ultra Clean XL+ Sanitary Pads", "9619", 0,
          ("30 pcs", "375")),
        F("SNP-STXL", "Stayfree", "Stayfree Secure XL Sanitary Pads", "9619", 0,
          ("20 pcs", "110")),
        F("HWS-DTOR", "Dettol", "Dettol Original Liquid Handwash Refill", "3401", 18,
          ("175 ml", "99")),
    ],
    HOUSEHOLD: [
        F("DET-SREW", "Surf Excel", "Surf Excel Easy Wash Detergent Powder", "3402", 18,
          ("500 g", "72"), ("1 kg", "140")),
        F("DET-SRMT", "Surf Excel", "Surf Excel Matic Top Load Liquid Detergent", "3402", 18,
          ("1 L", "235")),
        F("DET-ARFL", "Ariel", "Ariel Matic Front Load Detergent Powder", "3402", 18,
          ("1 kg", "290")),
        F("DET-TIDE", "Tide", "Tide Plus Double Power Jasmine & Rose Detergent Powder", "3402",
          18, ("1 kg", "110")),
        F("DET-RINP", "Rin", "Rin Advanced Detergent Powder", "3402", 18, ("1 kg", "85")),
        F("DET-WHEL", "Wheel", "Wheel Active 2 in 1 Detergent Powder", "3402", 18,
          ("1 kg", "62")),
        F("DET-GHDI", "Ghadi", "Ghadi Detergent Powder", "3402", 18, ("1 kg", "65")),
        F("DET-NRMA", "Nirma", "Nirma Washing Powder", "3402", 18, ("1 kg", "45")),
        F("BAR-RINB", "Rin", "Rin Detergent Bar", "3401", 18, ("250 g", "28")),
        F("DSH-VIMB", "Vim", "Vim Dishwash Bar", "3401", 18, ("300 g", "30"), ("500 g", "50")),
        F("DSH-VIMG", "Vim", "Vim Lemon Dishwash Liquid Gel", "3402", 18,
          ("250 ml", "60"), ("500 ml", "125")),
        F("DSH-PRIL", "Pril", "Pril Lime Dishwash Liquid", "3402", 18, ("425 ml", "110")),
        F("FLR-LZOL", "Lizol", "Lizol Disinfectant Floor Cleaner Citrus", "3808", 18,
          ("500 ml", "115"), ("975 ml", "210")),
        F("TLT-HRPC", "Harpic", "Harpic Power Plus Toilet Cleaner Original", "3402", 18,
          ("500 ml", "105"), ("1 L", "195")),
        F("GLS-COLN", "Colin", "Colin Glass & Surface Cleaner", "3402", 18, ("500 ml", "110")),
        F("ANT-DTAL", "Dettol", "Dettol Antiseptic Disinfectant Liquid", "3808", 18,
          ("250 ml", "175")),
        F("MSQ-GKGF", "Good knight", "Good knight Gold Flash Liquid Refill", "3808", 18,
          ("45 ml", "85")),
        F("MSQ-ALOT", "All Out", "All Out Ultra Liquid Refill", "3808", 18, ("45 ml", "85")),
        F("MSQ-HITL", "HIT", "HIT Lal Crawling Insect Killer Spray", "3808", 18,
          ("400 ml", "230")),
        F("SCR-SCBR", "Scotch-Brite", "Scotch-Brite Scrub Pad Large", "6805", 18,
          ("3 pcs", "60")),
        F("GRB-EZEM", "Ezee", "Ezee Garbage Bags Medium", "3923", 18, ("30 pcs", "99")),
        F("FOL-FRSH", "Freshwrapp", "Freshwrapp Aluminium Foil", "7607", 18, ("9 m", "99")),
        F("MTC-SHIP", "Ship", "Ship Safety Matches (10 Boxes)", "3605", 12, ("10 pcs", "20")),
        F("AIR-ODNL", "Odonil", "Odonil Air Freshener Block Jasmine", "3307", 18,
          ("50 g", "55")),
        F("TIS-ORGM", "Origami", "Origami So Soft 2-Ply Facial Tissues", "4818", 18,
          ("100 pcs", "75")),
        F("FAB-CMFT", "Comfort", "Comfort After Wash Fabric Conditioner", "3809", 18,
          ("860 ml", "230")),
    ],
    BABY: [
        F("DIA-PMBD", "Pampers", "Pampers Baby-Dry Pants Medium", "9619", 12,
          ("20 pcs", "349"), ("56 pcs", "899")),
        F("DIA-HGWL", "Huggies", "Huggies Wonder Pants Large", "9619", 12, ("42 pcs", "799")),
        F("DIA-MPXS", "MamyPoko", "MamyPoko Pants Extra Absorb Small", "9619", 12,
          ("42 pcs", "599")),
        F("BFD-CRWA", "Nestle", "Nestle Cerelac Wheat Apple", "1901", 18, ("300 g", "270")),
        F("BFD-NANP", "Nestle", "Nestle Nan Pro 1 Infant Formula", "1901", 18,
          ("400 g", "890")),
        F("BFD-LCTG", "Nestle", "Nestle Lactogen 1 Infant Formula", "1901", 18,
          ("400 g", "485")),
        F("BSP-JHNS", "Johnson's", "Johnson's Baby Soap", "3401", 18, ("100 g", "70")),
        F("BSH-JHNS", "Johnson's", "Johnson's Baby No More Tears Shampoo", "3305", 18,
          ("200 ml", "199")),
        F("BPW-JHNS", "Johnson's", "Johnson's Baby Powder", "3304", 18, ("200 g", "199")),
        F("BOL-JHNS", "Johnson's", "Johnson's Baby Oil", "3304", 18, ("200 ml", "215")),
        F("BWP-HMGW", "Himalaya", "Himalaya Gentle Baby Wipes", "3401", 18, ("72 pcs", "199")),
        F("BLT-HMBL", "Himalaya", "Himalaya Baby Lotion", "3304", 18, ("200 ml", "195")),
        F("BOL-DBLT", "Dabur", "Dabur Lal Tail Ayurvedic Baby Massage Oil", "3004", 12,
          ("100 ml", "95")),
    ],
    FROZEN: [
        F("FRZ-MCFF", "McCain", "McCain French Fries", "2004", 12,
          ("420 g", "125"), ("750 g", "210")),
        F("FRZ-MCSM", "McCain", "McCain Smiles", "2004", 12, ("415 g", "140")),
        F("FRZ-MCAT", "McCain", "McCain Aloo Tikki", "2004", 12, ("400 g", "115")),
        F("FRZ-SFGP", "Safal", "Safal Frozen Green Peas", "0710", 5,
          ("500 g", "95"), ("1 kg", "180")),
        F("FRZ-SFMV", "Safal", "Safal Frozen Mixed Vegetables", "0710", 5, ("500 g", "115")),
        F("FRZ-SFSC", "Safal", "Safal Frozen Sweet Corn", "0710", 5, ("500 g", "110")),
        F("FRZ-SMSK", "Sumeru", "Sumeru Chicken Seekh Kebab", "1602", 12, ("500 g", "320")),
        F("FRZ-SMMP", "Sumeru", "Sumeru Malabar Paratha", "2106", 18, ("5 pcs", "95")),
        F("FRZ-VNCN", "Venky's", "Venky's Chicken Nuggets", "1602", 12, ("500 g", "299")),
        F("ICE-AMVM", "Amul", "Amul Vanilla Magic Ice Cream", "2105", 18, ("1 L", "240")),
        F("ICE-KWCT", "Kwality Wall's", "Kwality Wall's Cornetto Double Chocolate", "2105", 18,
          ("105 ml", "50")),
        F("ICE-KWMG", "Kwality Wall's", "Kwality Wall's Magnum Truffle", "2105", 18,
          ("80 ml", "100")),
        F("ICE-HVKP", "Havmor", "Havmor Kesar Pista Ice Cream", "2105", 18, ("700 ml", "250")),
    ],
    POOJA: [
        F("AGB-CYCL", "Cycle", "Cycle Three in One Agarbatti", "33074100", 5, ("100 g", "70")),
        F("AGB-ZDBK", "Zed Black", "Zed Black 3 in 1 Premium Agarbatti", "33074100", 5,
          ("100 g", "60")),
        F("AGB-MGSD", "Mangaldeep", "Mangaldeep Sandal Agarbatti", "33074100", 5,
          ("90 g", "55"), ("180 g", "100")),
        F("AGB-STNC", "Satya", "Satya Nag Champa Agarbatti", "33074100", 5, ("40 g", "40")),
        F("DHP-MGSC", "Mangaldeep", "Mangaldeep Sandal Dhoop Cones", "33074100", 5,
          ("20 pcs", "40")),
        F("DHP-HEMC", "HEM", "HEM Precious Chandan Dhoop Sticks", "33074100", 5,
          ("20 pcs", "30")),
        F("SMB-CYCL", "Cycle", "Cycle Sambrani Cups", "33074100", 5, ("12 pcs", "45")),
        F("CMP-MGDP", "Mangaldeep", "Mangaldeep Camphor Tablets", "2914", 18, ("50 g", "85")),
        F("WIK-MGDP", "Mangaldeep", "Mangaldeep Round Cotton Wicks", "5908", 12,
          ("100 pcs", "20")),
        F("LMP-CYLD", "Cycle", "Cycle Lia Deepam Oil", "1515", 5, ("500 ml", "95")),
        F("DIY-KSCD", "Kirana Select", "Kirana Select Clay Diya", "6912", 0, ("12 pcs", "60")),
    ],
    STATIONERY: [
        F("NTB-CLMT", "Classmate", "Classmate Long Notebook Single Line 172 Pages", "4820", 12,
          ("1 pc", "60")),
        F("PEN-RYNL", "Reynolds", "Reynolds 045 Fine Carbure Ball Pen Blue", "9608", 18,
          ("5 pcs", "50")),
        F("PEN-CLBF", "Cello", "Cello Butterflow Ball Pen Blue", "9608", 18, ("5 pcs", "50")),
        F("PCL-NTRJ", "Natraj", "Natraj Platinum HB Pencils", "9609", 12, ("10 pcs", "50")),
        F("ERS-APSR", "Apsara", "Apsara Non-Dust Erasers", "4016", 18, ("5 pcs", "25")),
        F("GLU-FVKK", "Fevikwik", "Fevikwik Instant Adhesive", "3506", 18, ("1 pc", "10")),
        F("GLU-FVCL", "Fevicol", "Fevicol MR White Adhesive", "3506", 18, ("50 g", "25")),
    ],
}

# Small packs that carry an EAN-8 instead of an EAN-13.
EAN8_SKUS = frozenset({
    "CHC-CDDM-13G", "CHC-CD5S-22G", "CHC-CDPK-13G", "CNF-PRPP-22G", "GLU-FVKK-1PC",
})
# Discontinued packs kept for old bills and stock history.
INACTIVE_SKUS = frozenset({"CHP-UNCL-50G", "DET-NRMA-1KG", "SFT-MDEW-750ML"})
SECOND_BARCODE_SHARE = 0.10

# Reorder levels (pieces) drawn per category: fast movers get a higher floor.
REORDER_RANGE = {DAIRY: (15, 30), BAKERY: (10, 24)}
DEFAULT_REORDER_RANGE = (5, 20)

# --------------------------------------------------------------------------- loose goods
# (PLU, name, HSN, GST %, price per kg/litre, reorder level in kg/litre)
LOOSE_PRODUCE: list[tuple[str, str, str, int, str, int]] = [
    ("00101", "Onion", "0703", 0, "40", 50),
    ("00102", "Potato", "0701", 0, "35", 50),
    ("00103", "Tomato (Hybrid)", "0702", 0, "40", 30),
    ("00104", "Garlic", "0703", 0, "320", 5),
    ("00105", "Ginger", "0910", 0, "120", 5),
    ("00106", "Green Chilli", "0709", 0, "80", 3),
    ("00107", "Cauliflower", "0704", 0, "50", 10),
    ("00108", "Cabbage", "0704", 0, "40", 10),
    ("00109", "Carrot (Ooty)", "0706", 0, "70", 10),
    ("00110", "Radish (Mooli)", "0706", 0, "40", 5),
    ("00111", "Brinjal (Bharta)", "0709", 0, "50", 8),
    ("00112", "Lady Finger (Bhindi)", "0709", 0, "60", 8),
    ("00113", "Capsicum (Green)", "0709", 0, "80", 5),
    ("00114", "Cucumber", "0707", 0, "40", 8),
    ("00115", "Bottle Gourd (Lauki)", "0709", 0, "40", 8),
    ("00116", "Bitter Gourd (Karela)", "0709", 0, "70", 5),
    ("00117", "Spinach (Palak)", "0709", 0, "60", 3),
    ("00118", "Coriander Leaves", "0709", 0, "120", 2),
    ("00119", "French Beans", "0708", 0, "90", 5),
    ("00120", "Green Peas", "0708", 0, "100", 5),
    ("00121", "Lemon", "0805", 0, "120", 3),
    ("00122", "Sweet Potato", "0714", 0, "60", 5),
    ("00123", "Pumpkin (Red)", "0709", 0, "40", 5),
    ("00124", "Drumstick", "0709", 0, "140", 3),
    ("00125", "Beetroot", "0706", 0, "50", 5),
    ("00126", "Banana (Robusta)", "0803", 0, "50", 20),
    ("00127", "Apple (Shimla)", "0808", 0, "180", 15),
    ("00128", "Pomegranate", "0810", 0, "220", 10),
    ("00129", "Papaya", "0807", 0, "50", 10),
    ("00130", "Watermelon", "0807", 0, "30", 20),
    ("00131", "Orange (Nagpur)", "0805", 0, "90", 10),
    ("00132", "Mosambi", "0805", 0, "80", 10),
    ("00133", "Grapes (Green, Seedless)", "0806", 0, "120", 5),
    ("00134", "Guava", "0804", 0, "80", 5),
    ("00135", "Pineapple", "0804", 0, "70", 5),
    ("00136", "Chikoo (Sapota)", "0810", 0, "100", 5),
    ("00137", "Mango (Banganapalli)", "0804", 0, "120", 10),
]
LOOSE_STAPLES: list[tuple[str, str, str, int, str, int]] = [
    ("00201", "Sugar (Loose)", "1701", 5, "46", 50),
    ("00202", "Toor Dal (Loose)", "0713", 0, "165", 25),
    ("00203", "Moong Dal (Loose)", "0713", 0, "130", 15),
    ("00204", "Chana Dal (Loose)", "0713", 0, "95", 15),
    ("00205", "Masoor Dal (Loose)", "0713", 0, "100", 15),
    ("00206", "Urad Dal (Loose)", "0713", 0, "150", 10),
    ("00207", "Kabuli Chana (Loose)", "0713", 0, "130", 10),
    ("00208", "Rajma Chitra (Loose)", "0713", 0, "160", 10),
    ("00209", "Sona Masoori Rice (Loose)", "1006", 0, "65", 50),
    ("00210", "Basmati Rice Dubar (Loose)", "1006", 0, "110", 25),
    ("00211", "Chakki Atta (Loose)", "1101", 0, "45", 50),
    ("00212", "Poha Thick (Loose)", "1904", 0, "60", 10),
    ("00213", "Sooji (Loose)", "1103", 0, "50", 10),
    ("00214", "Besan (Loose)", "1106", 0, "95", 10),
    ("00215", "Jaggery (Loose)", "1701", 0, "60", 10),
    ("00216", "Raw Peanuts (Loose)", "1202", 5, "140", 10),
]
LOOSE_OILS: list[tuple[str, str, str, int, str, int]] = [
    ("00301", "Groundnut Oil Filtered (Loose)", "1508", 5, "190", 20),
    ("00302", "Mustard Oil Kachi Ghani (Loose)", "1514", 5, "160", 20),
]


# --------------------------------------------------------------------------- helpers
_PACK_RE = re.compile(r"^(\d+(?:\.\d+)?) (g|kg|ml|L|pc|pcs|m)$")


def size_code(pack: str) -> str:
    """'5 kg' -> '5KG', '2.25 L' -> '2250ML', '20 pcs' -> '20PC' (for SKUs)."""
    match = _PACK_RE.match(pack)
    if not match:
        raise ValueError(f"pack size {pack!r} is not like '500 g'")
    qty, unit = Decimal(match.group(1)), match.group(2)
    if qty != qty.to_integral_value():
        if unit not in ("kg", "L"):
            raise ValueError(f"pack size {pack!r}: only kg and L may have decimals")
        qty, unit = qty * 1000, {"kg": "g", "L": "ml"}[unit]
    unit = {"pcs": "pc"}.get(unit, unit)
    return f"{int(qty)}{unit.upper()}"


def money(text: str) -> str:
    return str(Decimal(text).quantize(Decimal("0.01")))


def company_number(brand: str, taken: dict[str, str]) -> str:
    """A GS1 company number (4 or 5 digits) fixed per brand, from a CRC of its name."""
    crc = zlib.crc32(brand.encode())
    width = 4 + (crc & 1)
    number = (crc >> 1) % 10**width
    while f"{number:0{width}d}" in taken.values():  # resolve rare clashes deterministically
        number = (number + 1) % 10**width
    return f"{number:0{width}d}"


def ean(body: str) -> str:
    return body + gtin_check_digit(body)


class Row(NamedTuple):
    sku: str
    name: str
    price: str
    gst: int
    hsn: str
    unit: str
    pack: str
    category: str
    brand: str  # "" for loose goods
    plu: str  # "" for packaged goods
    reorder_base: int  # pre-set for loose goods; 0 = draw one


def build_rows() -> list[Row]:
    rows: list[Row] = []
    for category, families in PACKAGED.items():
        for fam in families:
            for pack, price in fam.sizes:
                rows.append(Row(
                    sku=f"{fam.stem}-{size_code(pack)}", name=f"{fam.name} {pack}",
                    price=money(price), gst=gst_2025(fam.gst, fam.hsn), hsn=fam.hsn, unit="piece",
                    pack=pack,
                    category=category, brand=fam.brand, plu="", reorder_base=0,
                ))
    for category, unit, items in (
        (PRODUCE, "kg", LOOSE_PRODUCE), (LOOSE, "kg", LOOSE_STAPLES), (LOOSE, "litre", LOOSE_OILS),
    ):
        prefix = "FV" if category == PRODUCE else "LS"
        for plu, name, hsn, gst, price, reorder in items:
            rows.append(Row(
                sku=f"{prefix}-{plu}", name=name, price=money(price), gst=gst_2025(gst, hsn), hsn=hsn,
                unit=unit, pack="", category=category, brand="", plu=plu,
                reorder_base=reorder * 1000,
            ))
    rows.sort(key=lambda r: (r.category, r.name))
    return rows


def assign_barcodes(rows: list[Row], rng: random.Random) -> dict[str, list[str]]:
    companies: dict[str, str] = {}
    for brand in sorted({r.brand for r in rows if r.brand}):
        companies[brand] = company_number(brand, companies)
    used: set[str] = set()

    def fresh(make) -> str:
        while True:
            code = make()
            if code not in used:
                used.add(code)
                return code

    def ean13_for(brand: str) -> str:
        company = companies[brand]
        width = 12 - 3 - len(company)
        return fresh(lambda: ean(f"890{company}{rng.randrange(10**width):0{width}d}"))

    eligible = [r.sku for r in rows if r.brand and r.sku not in EAN8_SKUS]
    doubles = set(rng.sample(eligible, round(len(eligible) * SECOND_BARCODE_SHARE)))
    codes: dict[str, list[str]] = {}
    for row in rows:
        if row.plu:
            codes[row.sku] = [fresh(lambda p=row.plu: ean(f"21{p}00000"))]
        elif row.sku in EAN8_SKUS:
            codes[row.sku] = [fresh(lambda: ean(f"890{rng.randrange(10**4):04d}"))]
        else:
            codes[row.sku] = [ean13_for(row.brand)]
            if row.sku in doubles:
                codes[row.sku].append(ean13_for(row.brand))
    return codes


def catalog_records(rng: random.Random) -> list[list[str]]:
    rows = build_rows()
    missing = (EAN8_SKUS | INACTIVE_SKUS) - {r.sku for r in rows}
    if missing:
        raise SystemExit(f"unknown SKUs in EAN8_SKUS/INACTIVE_SKUS: {sorted(missing)}")
    codes = assign_barcodes(rows, rng)
    records = []
    for row in rows:
        if row.reorder_base:
            reorder = row.reorder_base
        else:
            low, high = REORDER_RANGE.get(row.category, DEFAULT_REORDER_RANGE)
            reorder = rng.randint(low, high)
        records.append([
            row.sku, row.name, "|".join(codes[row.sku]), row.price, str(row.gst), row.hsn,
            row.unit, row.pack, row.category, "no" if row.sku in INACTIVE_SKUS else "yes",
            str(reorder),
        ])
    return records


# --------------------------------------------------------------------------- bins
AMBIENT_AISLES = ("A", "B", "C", "D", "E", "F")
# (zone, aisle, bays) in walking order after the ambient aisles: cold goods are picked last.
OTHER_AISLES = (("PRODUCE", "PR", 5), ("CHILLED", "CH", 4), ("FROZEN", "FZ", 3))
SHELVES = 4
PICK_STEP = 10


def bin_records() -> list[list[str]]:
    walk = [("AMBIENT", aisle, 8) for aisle in AMBIENT_AISLES] + list(OTHER_AISLES)
    records = []
    seq = 0
    for i, (zone, aisle, bays) in enumerate(walk):
        order = range(1, bays + 1) if i % 2 == 0 else range(bays, 0, -1)
        for bay in order:
            for shelf in range(1, SHELVES + 1):
                seq += PICK_STEP
                records.append([f"{aisle}-{bay:02d}-{shelf}", zone, aisle, str(shelf), str(seq)])
    records.append(["BACK-01", "BACKROOM", "BK", "1", "9999"])
    return records


# --------------------------------------------------------------------------- output + checks
def write_csv(path: Path, header: tuple[str, ...], records: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(records)


def gs1_valid(code: str) -> bool:
    """Recompute the check digit, and cross-check with python-stdnum's independent EAN code."""
    if not (code.isdigit() and len(code) in (8, 13)):
        return False
    return gtin_check_digit(code[:-1]) == code[-1] and stdnum_ean.is_valid(code)


def verify(catalog_path: Path = CATALOG_PATH, bins_path: Path = BINS_PATH) -> list[str]:
    """Re-read both files and return a list of problems (empty = all good)."""
    problems: list[str] = []
    with catalog_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != CATALOG_COLUMNS:
            problems.append(f"catalog header is {reader.fieldnames}")
        rows = list(reader)
    skus = Counter(r["sku"] for r in rows)
    problems += [f"duplicate sku {s}" for s, n in skus.items() if n > 1]
    codes = Counter(c for r in rows for c in r["barcodes"].split("|"))
    problems += [f"duplicate barcode {c}" for c, n in codes.items() if n > 1]
    for r in rows:
        where = f"{r['sku']}:"
        for code in r["barcodes"].split("|"):
            if not gs1_valid(code):
                problems.append(f"{where} bad GS1 check digit or length in {code!r}")
            loose = r["unit"] != "piece"
            if loose != (len(code) == 13 and code.startswith("21") and code[7:12] == "00000"):
                problems.append(f"{where} {code} does not match unit {r['unit']}")
        try:
            price = Decimal(r["price"])
        except InvalidOperation:
            problems.append(f"{where} price {r['price']!r} is not a number")
        else:
            if price <= 0 or price.as_tuple().exponent < -2:
                problems.append(f"{where} price {r['price']!r} needs 0 < price, <= 2 decimals")
        if r["gst_rate"] not in GST_SLABS:
            problems.append(f"{where} gst_rate {r['gst_rate']!r}")
        if len(r["hsn"]) not in (4, 6, 8) or not r["hsn"].isdigit():
            problems.append(f"{where} hsn {r['hsn']!r}")
        if r["active"] not in ("yes", "no") or not r["reorder_level"].isdigit():
            problems.append(f"{where} active/reorder_level {r['active']!r}/{r['reorder_level']!r}")
        if not re.fullmatch(r"[A-Z0-9][A-Z0-9-]{0,39}", r["sku"]) or len(r["pack_size"]) > 20:
            problems.append(f"{where} sku or pack_size too long / bad characters")
    keys = [(r["category"], r["name"]) for r in rows]
    if keys != sorted(keys):
        problems.append("catalog rows are not sorted by category, name")
    if len(set(keys)) != len(keys):
        problems.append("duplicate product names within a category")
    packaged = sum(r["unit"] == "piece" for r in rows)
    if packaged < 320 or len(rows) - packaged < 30:
        problems.append(f"too few rows: {packaged} packaged, {len(rows) - packaged} loose")

    with bins_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != BIN_COLUMNS:
            problems.append(f"bins header is {reader.fieldnames}")
        bins = list(reader)
    if len({b["code"] for b in bins}) != len(bins):
        problems.append("duplicate bin codes")
    seqs = [int(b["pick_seq"]) for b in bins]
    if seqs != sorted(set(seqs)):
        problems.append("pick_seq is not strictly increasing down the file")
    if not 200 <= len(bins) <= 260:
        problems.append(f"{len(bins)} bins, expected 200-260")
    return problems


def main() -> int:
    rng = random.Random(SEED)
    catalog = catalog_records(rng)
    bins = bin_records()
    write_csv(CATALOG_PATH, CATALOG_COLUMNS, catalog)
    write_csv(BINS_PATH, BIN_COLUMNS, bins)

    problems = verify()
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    per_category = Counter(rec[8] for rec in catalog)
    n_loose = sum(rec[6] != "piece" for rec in catalog)
    n_codes = sum(len(rec[2].split("|")) for rec in catalog)
    print(f"wrote {CATALOG_PATH.relative_to(ROOT)}: {len(catalog)} products "
          f"({len(catalog) - n_loose} packaged, {n_loose} loose), {n_codes} barcodes")
    for category, n in sorted(per_category.items()):
        print(f"  {n:4d}  {category}")
    print(f"wrote {BINS_PATH.relative_to(ROOT)}: {len(bins)} bins")
    print("checks:", "FAILED" if problems else "ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
