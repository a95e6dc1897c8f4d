"""The shop's views: the order-shipped email with its invoice, an SMS, a contact form."""

from django.core.mail import EmailMultiAlternatives, send_mail
from django.http import HttpRequest, HttpResponse, JsonResponse

from norq.contrib.django import get_norq


def invoice(order: int) -> bytes:
    return f"%PDF-1.4 invoice for order {order}".encode()


def ship(request: HttpRequest, order: int) -> HttpResponse:
    email = request.POST["email"]
    message = EmailMultiAlternatives(
        subject=f"Order {order} shipped",
        body=f"Your order {order} is on its way.",
        to=[email],
        bcc=["orders@example.com"],
    )
    message.attach_alternative(f"<p>Your order <b>{order}</b> is on its way.</p>", "text/html")
    message.attach(f"invoice-{order}.pdf", invoice(order), "application/pdf")
    message.send()
    phone = request.POST.get("phone")
    if phone:
        get_norq().notify("sms", phone, template="order_shipped", data={"order": order})
    return JsonResponse({"order": order, "notified": [email] + ([phone] if phone else [])})


def contact(request: HttpRequest) -> HttpResponse:
    sent = send_mail(
        subject="Contact form",
        message=request.POST["message"],
        from_email=None,
        recipient_list=["support@example.com"],
        fail_silently=True,
    )
    return JsonResponse({"sent": sent})
