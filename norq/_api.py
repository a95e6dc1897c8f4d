"""Norq's public API, as type checkers see it: ``norq/__init__.py`` imports this only for them.

Every name imported here ``as`` itself is public: ``norq.<name>``, in
``norq.__all__``, and documented in docs/api.md or docs/plugins.md. At run
time ``norq/__init__.py`` loads each from the module its ``_EXPORTS`` names;
tests/test_plugins.py keeps the two lists equal. No ``from __future__``
import here: it would add a public name.
"""

from norq.app import Norq as Norq
from norq.bulk import AsyncBulkReceipts as AsyncBulkReceipts
from norq.bulk import BulkReceipts as BulkReceipts
from norq.bulk import BulkTally as BulkTally
from norq.bulk import Recipient as Recipient
from norq.contact import Contact as Contact
from norq.default import aclose as aclose
from norq.default import anotify as anotify
from norq.default import close as close
from norq.default import notify as notify
from norq.dryrun import PreparedNotification as PreparedNotification
from norq.error_codes import ErrorCode as ErrorCode
from norq.error_table import ErrorMeaning as ErrorMeaning
from norq.error_table import ErrorTable as ErrorTable
from norq.errors import ConfigError as ConfigError
from norq.errors import DeliveryError as DeliveryError
from norq.errors import MessageError as MessageError
from norq.errors import NorqError as NorqError
from norq.errors import PluginError as PluginError
from norq.errors import QueryError as QueryError
from norq.errors import StoreUnavailable as StoreUnavailable
from norq.errors import TemplateError as TemplateError
from norq.errors import UnsupportedOperation as UnsupportedOperation
from norq.executor import Executor as Executor
from norq.formats import BASE_URL as BASE_URL
from norq.formats import E164 as E164
from norq.formats import EMAIL as EMAIL
from norq.formats import HTTP_URL as HTTP_URL
from norq.formats import AddressFormat as AddressFormat
from norq.formats import is_e164 as is_e164
from norq.hookspecs import hookimpl as hookimpl
from norq.ledger import Claim as Claim
from norq.ledger import EntryState as EntryState
from norq.ledger import Lease as Lease
from norq.ledger import Ledger as Ledger
from norq.ledger import LedgerEntry as LedgerEntry
from norq.ledger import LedgerError as LedgerError
from norq.ledger import LedgerRow as LedgerRow
from norq.ledger import ResendPolicy as ResendPolicy
from norq.ledger import RunInfo as RunInfo
from norq.message import Message as Message
from norq.notification import Notification as Notification
from norq.provider import InboundMessage as InboundMessage
from norq.provider import MessageQuery as MessageQuery
from norq.provider import MessageStatus as MessageStatus
from norq.provider import Page as Page
from norq.provider import Provider as Provider
from norq.provider_config import ProviderConfig as ProviderConfig
from norq.rate_limits import RateLimits as RateLimits
from norq.raw import RawResponse as RawResponse
from norq.receipt import DeliveryFailure as DeliveryFailure
from norq.receipt import Outcome as Outcome
from norq.receipt import Receipt as Receipt
from norq.receipt import Skipped as Skipped
from norq.register import Register as Register
from norq.register import RegisterCommand as RegisterCommand
from norq.register import RegisterTransport as RegisterTransport
from norq.request import ApiBase as ApiBase
from norq.request import BasicAuth as BasicAuth
from norq.request import PreparedRequest as PreparedRequest
from norq.request import Token as Token
from norq.request import TokenSource as TokenSource
from norq.retry import Disposition as Disposition
from norq.retry import RetryPolicy as RetryPolicy
from norq.send_result import ErrorFormat as ErrorFormat
from norq.send_result import SendResult as SendResult
from norq.sqlite_ledger import SqliteLedger as SqliteLedger
from norq.transports.base import Response as Response
from norq.transports.base import Transport as Transport
from norq.transports.base import TransportFailure as TransportFailure
from norq.transports.base import TransportSettings as TransportSettings
from norq.transports.http import HttpTransport as HttpTransport
