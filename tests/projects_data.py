"""The shipped org chart made ready for seed 001's chat tests (real liaisons for the lead units, a leader
per project) and the Monday form as typed: shared by test_projects and test_keyprojects."""
from __future__ import annotations

from sqlalchemy import select

from models import KeyProject, Person

EDU_LIAISON, FIN_LIAISON = "placeholder_jiaoyuju", "placeholder_caizhengju"
LEADER = "guoyating"  # 郭雅婷, 教育工作 in seed 000's 附件2: filled in as 锦川实验小学项目's leader
OFFICE = "xiaojiansong"  # 肖坚松, 联合协调领导小组办公室主任
CONVENER = "zhangjingli"


def fill_in(s) -> None:
    """What the office does before going live: real liaisons for the lead units and the finance bureau,
    and a leader for every project."""
    for uid, name in ((EDU_LIAISON, "林教联"), (FIN_LIAISON, "陈财联"), ("placeholder_weijianju", "王卫联"),
                      ("placeholder_jiaotongyunshuju", "郑交联"), ("placeholder_nongshuiju", "黄水联"),
                      ("placeholder_xinchengtouzigongsi", "许新联")):
        p = s.scalar(select(Person).where(Person.wecom_userid == uid))
        p.placeholder, p.name, p.title = False, name, "联络员"
    leaders = {1: "guoyating", 2: "zhuangyiming", 3: "keyongjin", 4: "zhuangyiming"}
    for project in s.scalars(select(KeyProject)):
        project.leader = s.scalar(select(Person).where(Person.wecom_userid == leaders[project.seq]))


WEEKLY = [
    ("周报", ("锦川实验小学项目", "填报单位：区教育局", "2026年12月7日", "小郑", "13599290520", "完成项目工程量清算")),
    ("工程量清算已完成并经财政评审", "是否已达成"),
    ("1", "完成重新招投标"),
    ("招标文件已编制，待发布", "是否已达成"),
    ("未达成", "项目重新开工"),
    ("施工单位进场准备中", "是否已达成"),
    ("2", ("第 1 条", "项目审批", "完成")),
    ("2", "资金概算方面存在的问题"),
    ("追加概算尚未批复", "问题责任部门"),
    ("财政局", "协调推进情况"),
    ("已报区财政局评审", "下阶段工作对策建议"),
    ("提请联合会议研究追加概算", ("第 2 条", "问题所属方面")),
    ("规划用地", "规划用地方面存在的问题"),
    ("校门口道路红线需调整", "问题责任部门"),
    ("自然资源局", "协调推进情况"),
    ("已与区自然资源局对接", "下阶段工作对策建议"),
    ("尽快出具规划调整意见", "第 3 条"),
    ("完成", ("请核对", "项目审批方面：无", "资金概算方面：", "追加概算尚未批复", "规划用地方面：",
              "工程施工方面：无", "群众工作方面：无", "✅ 已达成", "⏳ 未达成")),
    ("确认", ("ZH1", "已送郭雅婷副区长审阅")),
]
