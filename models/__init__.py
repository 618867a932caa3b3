"""SQLAlchemy 2.x models of both seed documents. Import everything from here."""
from .base import Base, UTCDateTime, utcnow  # noqa: F401
from .ledger import *  # noqa: F401,F403
from .ledger import (  # noqa: F401
    AssignmentSlip,
    DispatchRow,
    Escalation,
    ExtensionRequest,
    Matter,
    Meeting,
    Minutes,
    MissedDeadline,
    ReportItem,
    ReportSubmission,
    RollUp,
)
from .org import *  # noqa: F401,F403
from .org import ChatGroup, GroupMembership, Person, PersonIdentity, PersonRole, Unit, WorkGroup  # noqa: F401
from .projects import *  # noqa: F401,F403
from .projects import (  # noqa: F401
    DecisionTransfer,
    JointMeeting,
    KeyProject,
    MeetingTopic,
    Milestone,
    MilestoneProgress,
    ProjectProblem,
    WeeklyProjectReport,
)
from .supervision import *  # noqa: F401,F403
from .supervision import (  # noqa: F401
    AccountabilityCase,
    Briefing,
    Highlight,
    Interview,
    SpotCheck,
    SupervisionTask,
)
from .system import *  # noqa: F401,F403
from .system import (  # noqa: F401
    AuditLog,
    ConversationState,
    InboxMessage,
    JobRun,
    MonthlyReport,
    Notice,
    OrgVersion,
    ProcessedMessage,
)
