# ruff: noqa: F811  (pytest fixtures imported from test_pos_service)
"""The till's and the pay panel's refusals and answers, the coupon, GST buyer, PIN and
password rules in Hindi (issue #22): each sample goes through the real code path (the
till's services on a real SQLite store, or the pure rule) under ``use_language("hi")``
and reads the Hindi of the catalogue, and under English reads exactly what it always
did."""

from __future__ import annotations

from datetime import date

import pytest

from app.core import coupons as coupon_rules
from app.core import credentials, i18n
from app.core.coupons import CouponError, Limits, Uses
from app.core.gst_invoice import GstinError, business_bill_refusal, parse_gstin
from app.core.passwords import PasswordPolicyError, check_password_policy
from app.pos import cart, coupons, payment, routes, shifts
from app.pos.pricing import Discount, PricingError
from app.pos.till_rules import PosError, accept_tender
from app.promotions import service as promos
from tests.conftest import STAFF
from tests.integration.test_pos_service import (  # noqa: F401  (fixtures)
    ATTA,
    BIG,
    barcode,
    cashier,
    catalog,
    manager,
    new_cart,
    parsed,
    users,
)

DIWALI = {"kind": "bill_amount_off", "name": "Diwali: Rs 50 off on Rs 500",
          "amount": "50", "min_bill": "500", "coupon": "DIWALI50", "coupon_total": "1"}
ASHA_GSTIN = "29AAPFU0939F1ZR"  # a buyer in Karnataka, the demo store's state


async def said(step) -> str:
    """The message of the refusal `step` (a coroutine or a callable) raises."""
    with pytest.raises((PosError, PricingError, CouponError, GstinError,
                        PasswordPolicyError, credentials.CredentialError)) as caught:
        result = step()
        if hasattr(result, "__await__"):
            await result
    return str(caught.value)


async def in_both(step) -> tuple[str, str]:
    """(English, Hindi) of the same refusal."""
    english = await said(step)
    with i18n.use_language("hi"):
        hindi = await said(step)
    return english, hindi


async def test_the_pay_panel_refuses_in_hindi(cfg, db, catalog, cashier):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    empty = await cart.current_cart(db, cfg, "C1", cashier)
    assert await in_both(lambda: payment.add_tender(
        db, cfg, "C1", empty.cart.id, "card", None, reference="")) == (
        "enter the card terminal's approval or reference number",
        "कार्ड टर्मिनल का अप्रूवल या रेफ़रेंस नंबर लिखें")
    assert await in_both(lambda: payment.add_tender(
        db, cfg, "C1", empty.cart.id, "card", None, reference="AB 12")) == (
        "the card reference is letters and digits only (never the card number)",
        "कार्ड रेफ़रेंस में सिर्फ़ अक्षर और अंक होते हैं (कार्ड नंबर कभी नहीं)")
    assert await in_both(lambda: payment.add_tender(
        db, cfg, "C1", empty.cart.id, "cash", None, given_minor=100)) == (
        "the cart is empty", "बिल खाली है")
    assert await in_both(lambda: payment.add_tender(
        db, cfg, "C1", empty.cart.id, "upi", None, reference="4111 1111 1111 1111")) == (
        "That looks like a card number. Type only the terminal's approval code or the "
        "last 4 digits.",
        "यह कार्ड नंबर लगता है। सिर्फ़ टर्मिनल का अप्रूवल कोड या आख़िरी 4 अंक लिखें।")
    assert await in_both(lambda: cart.park_cart(db, cfg, "C1", empty.cart.id, cashier)) == (
        "nothing to park: the cart is empty", "रोकने को कुछ नहीं: बिल खाली है")
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, ATTA))
    await payment.add_tender(db, cfg, "C1", view.cart.id, "upi", None, reference="UPI1")
    assert await in_both(lambda: payment.remove_tender(db, cfg, "C1", view.cart.id,
                                                       "no-such-tender")) == (
        "that payment is not on this cart", "यह भुगतान इस बिल पर नहीं है")
    assert await in_both(lambda: payment.add_tender(
        db, cfg, "C1", view.cart.id, "cash", None, given_minor=100)) == (
        "the bill is already paid; press Complete sale",
        "बिल का भुगतान हो चुका है; 'बिक्री पूरी करें' दबाएँ")
    assert await in_both(lambda: cart.set_customer_phone(
        db, cfg, "C1", view.cart.id, "12345")) == (
        "a mobile number has 10 digits and starts with 6, 7, 8 or 9",
        "मोबाइल नंबर 10 अंकों का होता है और 6, 7, 8 या 9 से शुरू होता है")


async def test_the_bill_and_its_buyer_in_hindi(cfg, db, catalog, cashier):
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, BIG))
    cid = view.cart.id
    assert await in_both(lambda: cart.set_buyer(db, cfg, "C1", cid, ASHA_GSTIN, "x" * 81,
                                                "MG Road")) == (
        "the buyer's name is too long: at most 80 characters",
        "खरीदार का नाम बहुत लंबा है: ज़्यादा से ज़्यादा 80 अक्षर")
    assert await in_both(lambda: cart.set_buyer(db, cfg, "C1", cid, ASHA_GSTIN, "Asha",
                                                "")) == (
        "type the buyer's address as on their GST registration",
        "खरीदार का पता वैसे ही लिखें जैसा उनके GST रजिस्ट्रेशन में है")
    assert await in_both(lambda: cart.set_quantity(db, cfg, "C1", cid,
                                                   view.cart.lines[0].id, 0, cashier)) == (
        "use Remove to take a line off the bill",
        "बिल से लाइन हटाने के लिए 'हटाएँ' दबाएँ")
    # What the manager's PIN box says it approves (the till's page words).
    assert routes._what_is_approved("/pos/cart/void", {}, view) == (
        "Void the whole bill: ₹545.00")
    with i18n.use_language("hi"):
        assert routes._what_is_approved("/pos/cart/void", {}, view) == (
            "पूरा बिल रद्द करें: ₹545.00")
        assert routes._what_is_approved("/pos/cart/discount", {"kind": "percent",
                                                               "value": ""}, view) == (
            "बिल: कोई छूट नहीं")


async def test_coupons_at_the_till_in_hindi(cfg, db, catalog, cashier, manager):
    await promos.create(db, cfg, DIWALI, manager)
    await shifts.open_shift(db, cfg, "C1", cashier, 0)
    view = await new_cart(db, cfg, "C1", cashier, barcode(catalog, BIG))
    cid = view.cart.id
    with i18n.use_language("hi"):
        _view, answer = await coupons.add_coupon(db, cfg, "C1", cid, "diwali50")
    assert answer == "कूपन DIWALI50 लगा: ₹50.00 की छूट"
    assert await in_both(lambda: coupons.add_coupon(db, cfg, "C1", cid, "DIWALI50")) == (
        "Coupon DIWALI50 is already on this bill", "कूपन DIWALI50 पहले से इस बिल पर है")
    assert await in_both(lambda: coupons.add_coupon(db, cfg, "C1", cid, "NOPE10")) == (
        "No coupon NOPE10", "NOPE10 नाम का कोई कूपन नहीं है")
    assert await in_both(lambda: coupons.remove_coupon(db, cfg, "C1", cid, "OTHER1")) == (
        "that coupon is not on this bill", "यह कूपन इस बिल पर नहीं है")


async def test_shift_and_tender_rules_in_hindi(cfg, db, cashier):
    assert await in_both(lambda: accept_tender("card", 50_000, None, 10_000)) == (
        "card payment is more than the ₹100.00 still due",
        "card भुगतान बाकी ₹100.00 से ज़्यादा है")
    assert await in_both(lambda: accept_tender("cash", None, None, 10_000)) == (
        "enter the cash received", "मिला हुआ नकद लिखें")
    assert await in_both(lambda: Discount("percent", 10_001)) == (
        "a discount cannot be more than 100 %", "छूट 100 % से ज़्यादा नहीं हो सकती")
    assert await in_both(lambda: shifts.cash_movement(db, "C1", cashier, 1000, " ")) == (
        "say why cash goes in or out", "बताएँ कि नकद क्यों डाला या निकाला जा रहा है")
    refusal = shifts.cash_out_refusal(cfg.pos, cfg.pos.cash_out_approval_above_rupees * 100
                                      + 100, 0)
    with i18n.use_language("hi"):
        hindi = shifts.cash_out_refusal(cfg.pos, cfg.pos.cash_out_approval_above_rupees * 100
                                        + 100, 0)
    limit = f"₹{cfg.pos.cash_out_approval_above_rupees:,}.00"
    assert refusal == f"cash out above {limit} needs a manager's PIN"
    assert hindi.startswith("₹") and hindi.endswith("से ज़्यादा नकद निकालने के लिए मैनेजर का "
                                                     "PIN चाहिए")


def test_coupon_rules_in_hindi():
    day = date(2026, 11, 1)
    none = Limits()

    def refusal(**kw) -> str | None:
        args = {"starts": None, "ends": None, "ended": None, "today": day, "limits": none,
                "uses": Uses(), "phone": ""} | kw
        return coupon_rules.refusal("DIWALI50", **args)

    once = {"limits": Limits(per_customer=2), "uses": Uses(by_customer=2),
            "phone": "9876543210"}
    assert refusal(ends=date(2026, 10, 5)) == "Coupon DIWALI50 expired on 5 Oct"
    assert refusal(**once) == "Coupon DIWALI50 already used 2 times by this customer (the limit)"
    assert refusal(limits=Limits(total=3), uses=Uses(total=3)) == (
        "Coupon DIWALI50 is used up: all 3 uses taken")
    with i18n.use_language("hi"):
        assert refusal(ends=date(2026, 10, 5)).startswith("कूपन DIWALI50 की मियाद 5 ")
        assert refusal(**once) == (
            "कूपन DIWALI50 यह ग्राहक 2 बार इस्तेमाल कर चुका है (यही सीमा है)")
        assert refusal(limits=Limits(total=3), uses=Uses(total=3)) == (
            "कूपन DIWALI50 ख़त्म हो गया: सभी 3 इस्तेमाल हो चुके")
        with pytest.raises(CouponError) as caught:
            coupon_rules.check_limits(2, 3)
        assert str(caught.value) == "हर ग्राहक के इस्तेमाल कुल इस्तेमाल से ज़्यादा नहीं हो सकते"
        with pytest.raises(CouponError) as caught:
            coupon_rules.check_new_code("a")
        assert str(caught.value) == (
            "कूपन कोड में 2 से 40 अक्षर, अंक, - या _ होते हैं (खाली जगह हटा दी जाती है)")
    with pytest.raises(CouponError, match=r"^uses per customer cannot be more than the uses "
                                          r"in total$"):
        coupon_rules.check_limits(2, 3)


async def test_gst_buyer_refusals_in_hindi():
    assert await in_both(lambda: parse_gstin("29AAACK1234F1Z")) == (
        "A GSTIN has 15 letters and digits; this one has 14.",
        "GSTIN में 15 अक्षर और अंक होते हैं; इसमें 14 हैं।")
    refused = business_bill_refusal(ASHA_GSTIN, "29", True, "27")
    with i18n.use_language("hi"):
        hindi = business_bill_refusal(ASHA_GSTIN, "29", True, "27")
        assert business_bill_refusal("", "29", False, "29").startswith(
            "इस स्टोर की सेटिंग में GSTIN नहीं है")
    assert refused == ("Under the composition scheme this store cannot sell to a buyer in "
                       "another state (27-Maharashtra). Sell it as a retail bill to a buyer "
                       "here, or refuse the sale.")
    assert hindi == ("कंपोज़िशन स्कीम में यह स्टोर दूसरे राज्य (27-Maharashtra) के खरीदार को "
                     "नहीं बेच सकता। इसे यहीं के खरीदार को रिटेल बिल में बेचें, या बिक्री मना करें।")


async def test_pin_and_password_rules_in_hindi(db, staff):
    pin = STAFF["cashier"][1]
    assert await in_both(lambda: credentials.change_own_pin(
        db, staff["cashier"], pin + "9", "918273")) == (
        "The current PIN is wrong.", "मौजूदा PIN गलत है।")
    assert await in_both(lambda: credentials.change_own_pin(
        db, staff["cashier"], pin, pin)) == (
        "Choose a PIN different from the current one.", "मौजूदा PIN से अलग PIN चुनें।")
    assert await in_both(lambda: check_password_policy("short")) == (
        "Use at least 12 characters; a few unrelated words are easy to remember and hard "
        "to guess.",
        "कम से कम 12 अक्षर लें; आपस में न जुड़े कुछ शब्द याद रखने में आसान और अंदाज़ा लगाने "
        "में मुश्किल होते हैं।")
    assert await in_both(lambda: check_password_policy("kirana store 2026 rocks")) == (
        "The password must not contain your name or 'kirana'.",
        "पासवर्ड में आपका नाम या 'kirana' नहीं होना चाहिए।")


def test_pin_rules_refuse_in_hindi() -> None:
    """The PIN policy's refusals (My PIN, a manager resetting a PIN) in the reader's
    language, the weakness named in it too; English as before."""
    from app.core.security import PinPolicyError, check_pin_policy

    with i18n.use_language("en"), pytest.raises(PinPolicyError) as en:
        check_pin_policy("1234")
    assert str(en.value) == "That PIN is easy to guess (digits in sequence); choose another"
    with i18n.use_language("hi"), pytest.raises(PinPolicyError) as hi:
        check_pin_policy("1234")
    assert str(hi.value) == ("यह PIN आसानी से अंदाज़ा लगाया जा सकता है (क्रम से अंक); "
                             "कोई दूसरा चुनें")
    with i18n.use_language("hi"), pytest.raises(PinPolicyError, match="4 से 6 अंकों"):
        check_pin_policy("12a")
