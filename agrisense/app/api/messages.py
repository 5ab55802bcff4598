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
