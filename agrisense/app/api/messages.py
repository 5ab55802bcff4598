"""Stable error codes and their messages in every language the service speaks (zh-CN first, English), chosen by the
request's ``Accept-Language``.

An error body carries ``code`` (stable: clients switch on it), ``params`` (the values the message names) and
``message`` (the code's template in the negotiated language, filled with ``params``); ``detail`` keeps the English
sentence the raising code wrote, for logs and developers. Every code has a template in every language (a test checks
that, and that every ``code=`` raised in the package is listed here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

MESSAGES: dict[str, dict[str, str]] = {
    # one per error class (the fallback when the raising code names no more specific code)
    "ERROR": {"zh-CN": "出错了，请稍后再试。", "en": "Something went wrong. Please try again later."},
    "INVALID_INPUT": {
        "zh-CN": "填写的内容有误，请检查后重试。",
        "en": "Some of what was sent is not valid. Check it and try again.",
    },
    "INVALID_GEOMETRY": {
        "zh-CN": "地块边界无法使用，请在地图上重新画出田块。",
        "en": "The plot outline cannot be used. Redraw the field on the map.",
    },
    "NOT_FOUND": {"zh-CN": "没有找到要查看的内容。", "en": "What you asked for was not found."},
    "AUTHENTICATION_FAILED": {"zh-CN": "请重新登录。", "en": "Please log in again."},
    "FORBIDDEN": {"zh-CN": "您的账户无权执行此操作。", "en": "Your account may not do this."},
    "CONFLICT": {
        "zh-CN": "此操作与当前状态冲突，请刷新后再试。",
        "en": "This clashes with the current state. Refresh and try again.",
    },
    "RATE_LIMITED": {"zh-CN": "操作太频繁，请稍后再试。", "en": "Too many requests. Please wait and try again."},
    "IMAGERY_UNAVAILABLE": {
        "zh-CN": "这块地暂时没有可用的卫星影像，请稍后再试。",
        "en": "There is no usable satellite imagery of this field yet. Try again later.",
    },
    "MODEL_UNAVAILABLE": {
        "zh-CN": "评估服务暂时不可用，请稍后再试。",
        "en": "The assessment service is unavailable right now. Try again later.",
    },
    "WEATHER_UNAVAILABLE": {
        "zh-CN": "暂时无法获取天气数据，请稍后再试。",
        "en": "Weather data is unavailable right now. Try again later.",
    },
    "POLICY_ERROR": {
        "zh-CN": "信贷政策配置有误，请联系服务方。",
        "en": "The credit policy is misconfigured. Please contact the service.",
    },
    # HTTP-level errors (framework, middleware)
    "VALIDATION_FAILED": {"zh-CN": "请更正以下内容：{fields}。", "en": "Please correct: {fields}."},
    "REQUEST_TOO_LARGE": {
        "zh-CN": "请求太大（超过 {max_kb} kB）。请简化地块边界（减少拐点），或分批提交。",
        "en": "The request is larger than {max_kb} kB. Simplify the plot outline (fewer corners) or send less at once.",
    },
    "TOO_MANY_REQUESTS": {
        "zh-CN": "操作太频繁，请 {seconds} 秒后再试。",
        "en": "Too many requests. Wait {seconds} seconds and try again.",
    },
    "METHOD_NOT_ALLOWED": {"zh-CN": "不支持此请求方式。", "en": "This method is not allowed here."},
    "HTTP_ERROR": {"zh-CN": "请求无法处理。", "en": "The request could not be handled."},
    "INTERNAL_ERROR": {
        "zh-CN": "服务出错了。如需报告，请提供请求编号 {request_id}。",
        "en": "Something went wrong on our side. Quote request id {request_id} if you report it.",
    },
    # accounts and sessions
    "LOGIN_FAILED": {
        "zh-CN": "手机号或密码不正确，请检查后重试。",
        "en": "Wrong phone number or password. Check both and try again.",
    },
    "LOGIN_LOCKED": {
        "zh-CN": "登录失败次数太多，已锁定 {seconds} 秒，请到时再试（期间正确的密码也会被拒绝）。",
        "en": "Too many failed logins. Logging in is locked for {seconds} s; try again then.",
    },
    "LOGIN_REQUIRED": {"zh-CN": "请先登录。", "en": "Log in first."},
    "SESSION_EXPIRED": {"zh-CN": "登录已过期，请重新登录。", "en": "Your session has expired. Log in again."},
    "SESSION_INVALID": {"zh-CN": "登录信息无效，请重新登录。", "en": "Your session is not valid. Log in again."},
    "LOGGED_OUT": {
        "zh-CN": "您已退出此次登录，请重新登录。",
        "en": "You have logged out of this session. Log in again.",
    },
    "PASSWORD_CHANGED": {
        "zh-CN": "密码已修改，此次登录已结束，请重新登录。",
        "en": "Your password was changed, which ended this session. Log in again.",
    },
    "ACCOUNT_GONE": {
        "zh-CN": "账户已不存在或登录无效，请重新登录。",
        "en": "Your account no longer exists or your session is invalid. Log in again.",
    },
    "PHONE_INVALID": {
        "zh-CN": "请输入数字手机号，例如 13800138000 或 +8613800138000。",
        "en": "Enter your mobile number as digits, e.g. 13800138000 or +8613800138000.",
    },
    "PHONE_TAKEN": {
        "zh-CN": "此手机号已注册，请直接登录。",
        "en": "This phone number is already registered. Log in instead.",
    },
    "NAME_INVALID": {"zh-CN": "请输入姓名（1 到 100 个字）。", "en": "Enter your name (1 to 100 characters)."},
    "PASSWORD_LENGTH": {
        "zh-CN": "密码长度须为 {min} 到 {max} 个字符；几个好记的词组合起来就很好。",
        "en": "Choose a password of {min} to {max} characters; a few words you can remember work well.",
    },
    "PASSWORD_COMMON": {
        "zh-CN": "这个密码太常见，很容易被猜到，请换一个。",
        "en": "This password is too common and easy to guess. Choose another one.",
    },
    "PASSWORD_IS_PHONE": {
        "zh-CN": "密码不能是手机号，请换一个。",
        "en": "Your password must not be your phone number.",
    },
    "PASSWORD_WRONG": {
        "zh-CN": "当前密码不正确，请重新输入。",
        "en": "Your current password is not right. Enter it again.",
    },
    "PASSWORD_UNCHANGED": {
        "zh-CN": "新密码不能与当前密码相同。",
        "en": "Choose a new password that differs from the current one.",
    },
    # plots and outlines
    "AREA_TOO_LARGE": {
        "zh-CN": "地块面积为 {area_ha} 公顷，超过上限 {max_ha} 公顷。请把每块田分开画。",
        "en": "The plot is {area_ha} ha, larger than {max_ha} ha. Draw each field separately.",
    },
    "AREA_TOO_SMALL": {
        "zh-CN": "地块面积为 {area_m2} 平方米，小于 {min_m2} 平方米。请画出整块田。",
        "en": "The plot is {area_m2} m², smaller than {min_m2} m². Draw the whole field.",
    },
    "OUTLINE_MISSING": {
        "zh-CN": "还没有地块边界，请在地图上画出田块。",
        "en": "Draw the outline of the field on the map.",
    },
    "OUTLINE_TOO_FEW_CORNERS": {
        "zh-CN": "边界至少需要 3 个不同的拐点，请沿田块添加拐点。",
        "en": "An outline needs at least 3 distinct corners. Add corners around the field.",
    },
    "OUTLINE_TOO_MANY_CORNERS": {
        "zh-CN": "边界有 {corners} 个拐点（最多 {max} 个），请简化。",
        "en": "The outline has {corners} corners (at most {max}). Simplify it.",
    },
    "OUTLINE_NOT_CLOSED": {
        "zh-CN": "边界没有闭合，请闭合后再试。",
        "en": "The outline is not closed. Close the shape and try again.",
    },
    "OUTLINE_SELF_INTERSECTS": {
        "zh-CN": "边界自相交或有误，请重新画，边线不要交叉。",
        "en": "The outline crosses itself or is malformed. Redraw it so that its edges do not cross.",
    },
    "COORDINATES_SWAPPED": {
        "zh-CN": "经纬度好像写反了：GeoJSON 须先写经度、后写纬度。",
        "en": "Latitude and longitude look swapped: GeoJSON needs [longitude, latitude].",
    },
    "COORDINATES_OUT_OF_RANGE": {
        "zh-CN": "坐标超出范围，须为 WGS84 经纬度。",
        "en": "A coordinate is out of range: coordinates must be WGS84 degrees.",
    },
    "UNKNOWN_CROP": {
        "zh-CN": "不认识作物 {crop}，请从 {crops} 中选择。",
        "en": "Unknown crop {crop}. Choose one of: {crops}.",
    },
    "PLOT_NOT_FOUND": {
        "zh-CN": "在您的地块中没有找到地块 {plot_id}。",
        "en": "Plot {plot_id} was not found among your plots.",
    },
    "PLOT_LIMIT_REACHED": {
        "zh-CN": "您已有 {max} 块地，请先删除不再耕种的地块。",
        "en": "You already have {max} plots. Delete plots you no longer farm first.",
    },
    "PLOT_IN_OPEN_APPLICATION": {
        "zh-CN": "地块 {plot_id} 属于仍在处理中的申请 {application_id}，暂时不能修改或删除。",
        "en": "Plot {plot_id} is part of application {application_id}, which is still open.",
    },
    "OUTSIDE_IMAGERY": {
        "zh-CN": "这块地在我们的卫星影像范围（{area}）以外，暂时无法评估。",
        "en": "This field is outside the area our satellite imagery covers ({area}). We cannot assess it yet.",
    },
    "PARTLY_OUTSIDE_IMAGERY": {
        "zh-CN": "这块地有一部分在卫星影像范围（{area}）以外。请只画范围以内的部分，或联系网点。",
        "en": "Part of this field lies outside the area our imagery covers ({area}). Draw only the part inside it.",
    },
    "LAND_UNDER_ACTIVE_LOAN": {
        "zh-CN": "地块 {plot_id} 有 {share_percent}% 的土地已有贷款。同一块地每季只能贷款一次，请只画您自己的田块。",
        "en": "{share_percent}% of plot {plot_id} is land already under a loan. Land can be financed once per season.",
    },
    "LAND_UNDER_OPEN_OFFER": {
        "zh-CN": "地块 {plot_id} 有 {share_percent}% 的土地已在另一份待处理的申请中。同一块地每季只能贷款一次。",
        "en": "{share_percent}% of plot {plot_id} is already in another open application. "
        "Land can be financed once per season.",
    },
    # applications: submitting
    "APPLICATION_NOT_FOUND": {
        "zh-CN": "在您的申请中没有找到申请 {application_id}。",
        "en": "Application {application_id} was not found among your applications.",
    },
    "APPLICATION_NO_PLOTS": {
        "zh-CN": "请至少选择一块您的地块来申请。",
        "en": "Choose at least one of your plots for the application.",
    },
    "APPLICATION_TOO_MANY_PLOTS": {
        "zh-CN": "一份申请最多包含 {max} 块地，请分几次申请。",
        "en": "An application can hold at most {max} plots. Apply for the others separately.",
    },
    "PLOT_LISTED_TWICE": {
        "zh-CN": "有一块地选了两次，每块地只选一次。",
        "en": "A plot is listed twice. List each plot once.",
    },
    "CONSENT_REQUIRED": {
        "zh-CN": "我们需要您明确同意查看这几块地的卫星图像，才能评估。请勾选同意后再提交。",
        "en": "We need your explicit consent to look at satellite imagery of your plots. Tick the consent box and "
        "submit again.",
    },
    "CONSENT_LANGUAGE_INVALID": {
        "zh-CN": "同意书的语言须为以下之一：{languages}。",
        "en": "The consent language must be one of: {languages}.",
    },
    "PLOTS_OVERLAP": {
        "zh-CN": "地块 {first} 和地块 {second} 重叠了 {share_percent}%，同一块地不能贷款两次。"
        "请去掉其中一块，或重新画使它们不重叠。",
        "en": "Plots {first} and {second} overlap ({share_percent}%): the same land cannot be financed twice. Leave "
        "one out, or redraw them so that they do not overlap.",
    },
    "PLOT_ALREADY_APPLIED": {
        "zh-CN": "地块 {plot_id} 已在申请 {application_id} 中，请等待那份申请的结果，不要重复提交。",
        "en": "Plot {plot_id} is already in application {application_id}. Wait for its decision instead of "
        "submitting it again.",
    },
    "PLOT_SUBMITTED_CONCURRENTLY": {
        "zh-CN": "其中一块地刚刚在另一份申请中提交了。请打开“我的申请”查看。",
        "en": "One of these plots was submitted in another application at the same moment. Open your applications "
        "to see it.",
    },
    "FARMER_CAP_REACHED_MEANWHILE": {
        "zh-CN": "评估期间您的另一份申请有了结果：合计 {total:,.2f}，超过每位农户最多可贷的 {cap:,.2f}。"
        "请先查看您的申请，再重新提交。",
        "en": "Another application of yours was decided meanwhile: together they would be {total:,.2f}, above "
        "the {cap:,.2f} a farmer can borrow. Open your applications, then submit again.",
    },
    # applications: accepting an offer
    "APPLICATION_ACCEPTED": {
        "zh-CN": "申请 {application_id} 已经接受，现在是一笔贷款。",
        "en": "Application {application_id} was already accepted: it is a loan now.",
    },
    "APPLICATION_IN_REVIEW": {
        "zh-CN": "申请 {application_id} 还在信贷员审核中，有结果会通知您。",
        "en": "Application {application_id} is still being reviewed by an analyst; you will be told the decision.",
    },
    "APPLICATION_DECLINED": {
        "zh-CN": "申请 {application_id} 没有通过，没有可以接受的额度。",
        "en": "Application {application_id} was declined, so there is nothing to accept.",
    },
    "APPLICATION_WITHDRAWN": {
        "zh-CN": "申请 {application_id} 已取消：它所依据的同意已被撤回。如需贷款，请重新申请。",
        "en": "Application {application_id} was cancelled: the consent it relied on was withdrawn. Apply again "
        "for a new offer.",
    },
    "APPLICATION_NOT_OFFERED": {
        "zh-CN": "申请 {application_id} 现在不能接受。",
        "en": "Application {application_id} cannot be accepted now.",
    },
    "NO_LIMIT_TO_ACCEPT": {
        "zh-CN": "申请 {application_id} 没有可以接受的贷款额度。",
        "en": "Application {application_id} has no credit limit to accept.",
    },
    "ACCEPT_ABOVE_FARMER_CAP": {
        "zh-CN": "接受申请 {application_id}（{limit:,.2f}）后，"
        "您的贷款合计 {total:,.2f}，超过每位农户最多可贷的 {cap:,.2f}。"
        "请先还清一笔贷款，或申请更低的额度。",
        "en": "Accepting application {application_id} ({limit:,.2f}) would bring your loans to {total:,.2f}, "
        "above the {cap:,.2f} a farmer can borrow. Repay a loan first, or ask for a lower limit.",
    },
    # applications: the analyst's decision
    "DECISION_INVALID": {
        "zh-CN": "审批决定须为批准、拒绝或修改额度之一。",
        "en": "The decision must be approve, decline or change_limit.",
    },
    "REASON_REQUIRED": {
        "zh-CN": "请写明理由，理由会记入审计日志。",
        "en": "Give a reason for the decision; it is kept in the audit log.",
    },
    "NEW_LIMIT_INVALID": {
        "zh-CN": "修改额度需要填写新额度：大于 0，最多 {max}。",
        "en": "Changing the limit needs a new limit: a positive amount of at most {max}.",
    },
    "NO_PROPOSED_LIMIT": {
        "zh-CN": "申请 {application_id} 没有建议额度可以批准，请选择“修改额度”并填写额度。",
        "en": "Application {application_id} has no proposed limit to approve. Choose change_limit and give one.",
    },
    "PLOT_IN_ANOTHER_OPEN_APPLICATION": {
        "zh-CN": "申请 {application_id} 的一块地现在在另一份待处理的申请中，请先处理那一份。",
        "en": "A plot of application {application_id} is now in another open application; decide that one first.",
    },
    "OVERRIDE_PENDING": {
        "zh-CN": "申请 {application_id} 已有修改额度请求 {override_id} 在等待第二位信贷员审批，请先批准或驳回它。",
        "en": "Application {application_id} already has override request {override_id} waiting for a second "
        "analyst; approve or reject it first.",
    },
    # loans
    "LOAN_NOT_FOUND": {
        "zh-CN": "在您的贷款中没有找到贷款 {loan_id}。",
        "en": "Loan {loan_id} was not found among your loans.",
    },
    "CLIENT_KEY_REUSED": {
        "zh-CN": "这个编号（client_key）已用于贷款 {loan_id} 的另一笔记账，请换一个新编号。",
        "en": "This client_key was already used for another posting on loan {loan_id}; use a new key.",
    },
    "POSTING_IN_PROGRESS": {
        "zh-CN": "同一编号的记账正在由另一个请求处理，请稍后重试以读取结果。",
        "en": "A posting with this client_key is being made by another request; retry to read its result.",
    },
    "LOAN_NOT_DISBURSING": {
        "zh-CN": "贷款 {loan_id} 当前状态不能再放款。",
        "en": "Loan {loan_id} pays out no more money in its current state.",
    },
    "TRANCHE_ALREADY_PAID": {
        "zh-CN": "贷款 {loan_id} 的第 {tranche} 笔已经发放过了。",
        "en": "Tranche {tranche} of loan {loan_id} was already paid out.",
    },
    "TRANCHE_ON_HOLD": {
        "zh-CN": "贷款 {loan_id} 的第 {tranche} 笔暂不能发放（冻结，或等待确认出苗）。",
        "en": "Tranche {tranche} of loan {loan_id} cannot be paid out yet (frozen, or waiting for emergence).",
    },
    "LOAN_TAKES_NO_REPAYMENT": {
        "zh-CN": "贷款 {loan_id} 现在不接受还款（尚未放款、已还清或已核销）。",
        "en": "Loan {loan_id} takes no repayment now (nothing paid out yet, repaid or written off).",
    },
    "LOAN_STATE_CHANGE_REFUSED": {
        "zh-CN": "贷款 {loan_id} 不能从当前状态改为所选状态。",
        "en": "Loan {loan_id} cannot change from its current state to the one chosen.",
    },
    # the farmer's data
    "ACTIVE_LOAN_KEEPS_DATA": {
        "zh-CN": "您有一笔正在进行的贷款（申请 {application_id}），还清之前须保留其记录；还清后可以删除您的数据。",
        "en": "You have an active loan (application {application_id}). Its records are kept until it is repaid; "
        "you can delete your data after that.",
    },
    # review queue
    "PD_RANGE_INVALID": {
        "zh-CN": "违约概率范围无效：须在 0 到 1 之间，且下限不大于上限。",
        "en": "The PD range is not valid: both ends must be between 0 and 1, the lower at most the upper.",
    },
}

_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$|^\*$")


def negotiate(accept_language: str | None) -> str:
    """The supported language an ``Accept-Language`` header prefers (q-values honoured; ``zh``, ``zh-Hans``,
    ``zh-TW`` … -> zh-CN, ``en-*`` -> en); zh-CN when the header is absent, malformed or names neither."""
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, rest = part.strip().partition(";")
        q = 1.0
        if rest.strip().startswith("q="):
            try:
                q = float(rest.strip()[2:])
            except ValueError:
                continue
        if not _TAG.match(tag) or q <= 0:
            continue
        primary = tag.split("-")[0].lower()
        language = {"zh": "zh-CN", "en": "en", "*": DEFAULT_LANGUAGE}.get(primary)
        if language is not None:
            choices.append((-q, i, language))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def message(code: str, params: Mapping[str, Any], language: str) -> str:
    """``code``'s template in ``language`` filled with ``params``; a code or parameter missing from the catalog
    falls back to the generic message (never an error while answering one)."""
    templates = MESSAGES.get(code) or MESSAGES["ERROR"]
    template = templates.get(language) or templates[DEFAULT_LANGUAGE]
    try:
        return template.format_map(dict(params))
    except (KeyError, ValueError, IndexError):
        return (MESSAGES["ERROR"]).get(language) or MESSAGES["ERROR"][DEFAULT_LANGUAGE]


def localised(code: str, params: Mapping[str, Any], language: str) -> dict[str, Any]:
    """The ``code``, ``params`` and ``message`` fields of an error body."""
    return {"code": code, "params": dict(params), "message": message(code, params, language)}
